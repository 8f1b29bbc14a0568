"""Courses, who is in them, the dataset versions they use, and their homeworks. Data only:
the rules live in services.py (writes) and selectors.py (reads)."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from basin_grader.budgets import PROFILES, BudgetError, DiagnosticsBudget, resolve_budget


class Course(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title


class Membership(models.Model):
    class Role(models.TextChoices):
        TA = "ta", "TA"
        STUDENT = "student", "Student"

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["course", "user"], name="one_membership_per_course")]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.course.slug}"


class DatasetVersion(models.Model):
    """A built difficult-MNIST version: a directory under BASIN_DATASETS_DIR and its manifest."""

    slug = models.SlugField(unique=True)
    directory = models.CharField(max_length=255, help_text="relative to BASIN_DATASETS_DIR")
    seed = models.IntegerField()
    manifest = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    @property
    def path(self) -> Path:
        return Path(settings.BASIN_DATASETS_DIR) / self.directory

    def __str__(self) -> str:
        return self.slug


def validate_budget_overrides(value) -> None:
    """A TA's diagnostics overrides must make sense on every device a worker may have."""
    if not isinstance(value, dict):
        raise ValidationError('Write the overrides as a JSON object, e.g. {"grid": 21}.')
    for profile in PROFILES:
        try:
            resolve_budget(profile, value)
        except BudgetError as e:
            raise ValidationError(str(e)) from e
    most = settings.BASIN_LEASE_SECONDS - settings.BASIN_LEASE_MARGIN_SECONDS
    if value.get("time_limit_s", 0) > most:
        raise ValidationError(f"diagnostics setting time_limit_s can be at most {most} s here "
                              "(BASIN_LEASE_SECONDS minus BASIN_LEASE_MARGIN_SECONDS).")


class Homework(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="homeworks")
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    dataset = models.ForeignKey(DatasetVersion, on_delete=models.PROTECT, related_name="homeworks")
    opens_at = models.DateTimeField()
    deadline = models.DateTimeField()
    daily_quota = models.PositiveIntegerField(default=5)
    final_selections = models.PositiveIntegerField(
        default=2, help_text="submissions a student may choose for the private leaderboard")
    max_upload_mb = models.PositiveIntegerField(default=50)
    time_limit_s = models.PositiveIntegerField(default=300)
    memory_limit_mb = models.PositiveIntegerField(default=2048)
    leaderboard_is_public = models.BooleanField(default=True, help_text="visible without logging in")
    show_logs_to_students = models.BooleanField(
        default=True, help_text="students see their submission's log tail; TAs always do")
    private_revealed_at = models.DateTimeField(null=True, blank=True)
    diagnostics_enabled = models.BooleanField(
        default=True, help_text="run the loss landscape, sharpness and feature view for each scored submission")
    diagnostics_budget = models.JSONField(
        default=dict, blank=True, validators=[validate_budget_overrides],
        help_text="overrides of the worker's device defaults, e.g. {\"grid\": 21, \"samples\": 512, "
                  "\"time_limit_s\": 300}; settings: " + ", ".join(f.name for f in fields(DiagnosticsBudget)))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(deadline__gt=models.F("opens_at")),
                                              name="deadline_after_opening")]

    @property
    def private_is_revealed(self) -> bool:
        """A reveal set for a later time is not a reveal yet."""
        from django.utils import timezone

        return self.private_revealed_at is not None and self.private_revealed_at <= timezone.now()

    def __str__(self) -> str:
        return self.title
