"""Courses, who is in them, the dataset versions they use, and their homeworks. Data only:
the rules live in services.py (writes) and selectors.py (reads)."""
from __future__ import annotations

import math
import secrets
from dataclasses import fields
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from basin_grader.budgets import PROFILES, BudgetError, DiagnosticsBudget, resolve_budget

# Join codes and pseudonyms are read aloud and typed: no 0/O or 1/l/I.
_JOIN_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_ADJECTIVES = ("amber", "brisk", "calm", "deft", "eager", "fleet", "gentle", "hardy", "keen", "lucid", "merry",
               "nimble", "quiet", "rapid", "sly", "steady", "tidy", "vivid", "wary", "zesty")
_ANIMALS = ("heron", "otter", "lynx", "finch", "marten", "ibex", "newt", "plover", "quokka", "raven", "stoat",
            "tapir", "vole", "wren", "yak", "gecko", "koala", "llama", "okapi", "puffin")


def new_join_code() -> str:
    return "".join(secrets.choice(_JOIN_ALPHABET) for _ in range(10))


def new_pseudonym() -> str:
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_ANIMALS)}-{secrets.randbelow(900) + 100}"


class Course(models.Model):
    class HiddenLogReaders(models.TextChoices):
        """Who reads what a submission printed on the hidden test images. Never its student: it
        could carry hidden images out (basin_grader.evaluate)."""
        TAS = "tas", "the course's TAs"
        NOBODY = "nobody", "no one in the product (superusers in the admin)"

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    hidden_log_readers = models.CharField(
        max_length=16, choices=HiddenLogReaders.choices, default=HiddenLogReaders.TAS,
        help_text="who may read the log of a submission's run on the hidden test images")
    join_code = models.CharField(
        max_length=32, blank=True, default=new_join_code,
        help_text="students who type it join as students (`basin join CODE` or the Join page); empty: roster only")
    token_lifetime_days = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="days an API token made from now on lasts (`basin login`, the homework page); empty: no expiry. "
                  "A member of several courses gets the shortest.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["join_code"], condition=~models.Q(join_code=""),
                                               name="join_codes_are_unique")]

    def __str__(self) -> str:
        return self.title


class Membership(models.Model):
    class Role(models.TextChoices):
        TA = "ta", "TA"
        STUDENT = "student", "Student"

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    student_id = models.CharField(max_length=64, blank=True, help_text="the university's id, from the roster")
    # The name shown on leaderboards of homeworks with pseudonymous_leaderboard (unique in the course).
    pseudonym = models.CharField(max_length=64, blank=True)
    # This course's roster made the account: only then may a later import of it set its name and
    # email, or issue it a new set-password link.
    account_from_roster = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["course", "user"], name="one_membership_per_course"),
                       models.UniqueConstraint(fields=["course", "pseudonym"], condition=~models.Q(pseudonym=""),
                                               name="one_pseudonym_per_course")]

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
    from basin import leases

    if value.get("time_limit_s", 0) > leases.longest_run_s():
        raise ValidationError(f"diagnostics setting time_limit_s can be at most {leases.longest_run_s()} s here "
                              f"{leases.LIMIT_HELP}.")


class Homework(models.Model):
    class LatePolicy(models.TextChoices):
        REFUSE = "refuse", "refuse late submissions"
        PENALTY = "penalty", "accept them, with a penalty per started day"

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="homeworks")
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    dataset = models.ForeignKey(DatasetVersion, on_delete=models.PROTECT, related_name="homeworks")
    opens_at = models.DateTimeField()
    deadline = models.DateTimeField()
    # At least 1: a homework closes at its deadline, not by a quota of 0 (which would refuse every
    # upload with no time at which one frees up).
    daily_quota = models.PositiveIntegerField(default=5, validators=[MinValueValidator(1)],
                                              help_text="submissions per student in any 24 hours (at least 1)")
    total_quota = models.PositiveIntegerField(null=True, blank=True,
                                              help_text="submissions per student in all; empty: no limit")
    late_policy = models.CharField(max_length=16, choices=LatePolicy.choices, default=LatePolicy.REFUSE)
    late_penalty_percent = models.PositiveSmallIntegerField(
        default=10, validators=[MaxValueValidator(100)],
        help_text="taken off a late submission's score per started day after the deadline")
    late_until = models.DateTimeField(null=True, blank=True,
                                      help_text="with the penalty policy, when late submissions stop being accepted")
    pseudonymous_leaderboard = models.BooleanField(
        default=False, help_text="leaderboards show each student's course pseudonym; TAs still see names")
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
                                              name="deadline_after_opening"),
                       models.CheckConstraint(condition=models.Q(late_policy="refuse")
                                              | models.Q(late_until__gt=models.F("deadline")),
                                              name="late_until_after_deadline"),
                       models.CheckConstraint(condition=models.Q(daily_quota__gte=1), name="daily_quota_at_least_one")]

    def clean(self) -> None:
        if self.late_policy == self.LatePolicy.PENALTY and (self.late_until is None or self.deadline is None
                                                            or self.late_until <= self.deadline):
            raise ValidationError({"late_until": "With the penalty policy, set when late submissions stop being "
                                                 "accepted: a time after the deadline."})

    @property
    def closes_at(self) -> datetime:
        """When submissions (and the final selection) close: the deadline, or the end of the late period."""
        return self.late_until if self.late_policy == self.LatePolicy.PENALTY and self.late_until else self.deadline

    def late_penalty_at(self, when: datetime) -> float:
        """The fraction taken off the score of a submission received at `when` (0 when on time)."""
        if when <= self.deadline:
            return 0.0
        days = math.ceil((when - self.deadline).total_seconds() / 86400)
        return min(1.0, days * self.late_penalty_percent / 100)

    @property
    def private_is_revealed(self) -> bool:
        """A reveal set for a later time is not a reveal yet."""
        from django.utils import timezone

        return self.private_revealed_at is not None and self.private_revealed_at <= timezone.now()

    def __str__(self) -> str:
        return self.title
