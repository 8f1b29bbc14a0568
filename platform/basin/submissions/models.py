"""A submission: the stored file and where it stands in received → queued → running →
scored | failed | cancelled. Scores of the private leaderboard part are stored here but only
shown after the homework's reveal (see selectors and serializers)."""
from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models


def submission_upload_path(instance: Submission, filename: str) -> str:
    # A random name: the student's file name is kept in original_name, never in a path.
    suffix = PurePath(filename).suffix.lower()[:8]
    return f"submissions/{instance.homework_id}/{uuid.uuid4().hex}{suffix}"


class Submission(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received"
        QUEUED = "queued"
        RUNNING = "running"
        SCORED = "scored"
        FAILED = "failed"
        CANCELLED = "cancelled"

    TERMINAL_STATUSES = (Status.SCORED, Status.FAILED, Status.CANCELLED)

    class DiagnosticsStatus(models.TextChoices):
        """The separate, lower-priority diagnostics run of a scored submission (basin.grading.diagnostics)."""
        NONE = "", "not run"
        QUEUED = "queued"
        RUNNING = "running"
        COMPLETE = "complete"
        PARTIAL = "partial"  # out of time, or parts the model could not do: the report says which
        FAILED = "failed"  # the grader failed on it every attempt


    homework = models.ForeignKey("courses.Homework", on_delete=models.CASCADE, related_name="submissions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions")
    is_baseline = models.BooleanField(default=False)
    selected = models.BooleanField(default=False, help_text="chosen by its student for the private leaderboard")
    file = models.FileField(upload_to=submission_upload_path, max_length=255)
    original_name = models.CharField(max_length=255)
    kind = models.CharField(max_length=16)  # basin_grader.formats.BUNDLE or EXPORT
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    note = models.CharField(max_length=500, blank=True)
    late_penalty = models.FloatField(default=0.0, help_text="fraction taken off the score: it came after the deadline")
    disqualified = models.BooleanField(default=False, help_text="kept, counted, but never on a leaderboard")
    disqualified_reason = models.CharField(max_length=500, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    verdict = models.CharField(max_length=32, blank=True)
    message = models.TextField(blank=True)
    log_tail = models.TextField(blank=True, help_text="the rehearsal's log: public images only, the student's")
    hidden_log = models.TextField(blank=True, help_text="the run on the hidden test images: course staff only")
    attempts = models.PositiveIntegerField(default=0)  # only ever grows: each claim's number is its own
    attempts_before_rescore = models.PositiveIntegerField(default=0, help_text="retries count from here")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)  # last message sent; the watchdog resends stale ones

    public_score = models.FloatField(null=True, blank=True)
    private_score = models.FloatField(null=True, blank=True)
    scores = models.JSONField(default=dict, blank=True)
    # By leaderboard part; the "private" parts are shown only after the reveal (basin_grader.trusted_diagnostics).
    diagnostics = models.JSONField(default=dict, blank=True)
    # The sandbox's diagnostics run (public-label subsets only: shown before the reveal too).
    model_diagnostics = models.JSONField(default=dict, blank=True)
    diagnostics_status = models.CharField(max_length=16, choices=DiagnosticsStatus.choices, blank=True, default="")
    diagnostics_attempts = models.PositiveIntegerField(default=0)
    diagnostics_lease_expires_at = models.DateTimeField(null=True, blank=True)
    diagnostics_enqueued_at = models.DateTimeField(null=True, blank=True)
    # Copied out of model_diagnostics when it is recorded: what a leaderboard row shows, read
    # without unpacking the whole report for every row.
    landscape_thumbnail = models.JSONField(null=True, blank=True,
                                           help_text="train loss along the first 1D landscape direction")
    sharpness = models.FloatField(null=True, blank=True, help_text="top Hessian eigenvalue")
    timings = models.JSONField(default=dict, blank=True)
    backend = models.CharField(max_length=16, blank=True)
    worker = models.CharField(max_length=255, blank=True, help_text="the worker that last ran its grading")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["homework", "status", "public_score"]),
            models.Index(fields=["homework", "user", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.user} {self.status}"
