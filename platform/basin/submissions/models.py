"""A submission, the stored file and what grading made of it, and its runs: each sandbox run (a
scoring or a diagnostics run) is a Run row with its own state, tries, lease and history
(basin.submissions.runs owns every change of a run's state).

A submission's `status` (received → queued → running → scored | failed | cancelled) and
`diagnostics_status` are what its student is shown of its latest scoring and diagnostics run:
basin.submissions.runs writes them with the run, in one transaction, and nothing else does.
Scores of the private leaderboard part are stored here but only shown after the homework's
reveal (basin.courses.access)."""
from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.utils import timezone


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

    public_score = models.FloatField(null=True, blank=True)
    private_score = models.FloatField(null=True, blank=True)
    scores = models.JSONField(default=dict, blank=True)
    # The worker's own, from the hidden labels (basin_grader.trusted_diagnostics), by leaderboard part;
    # the "private" parts are shown only after the reveal.
    # (Their columns keep the names they had, "diagnostics" and "model_diagnostics": a worker of the
    # release before still writes them while the web migrates.)
    trusted_diagnostics = models.JSONField(default=dict, blank=True, db_column="diagnostics")
    # The sandbox's diagnostics run (public-label subsets only: shown before the reveal too).
    sandbox_diagnostics = models.JSONField(default=dict, blank=True, db_column="model_diagnostics")
    diagnostics_status = models.CharField(max_length=16, choices=DiagnosticsStatus.choices, blank=True, default="")
    # Copied out of sandbox_diagnostics when it is recorded: what a leaderboard row shows, read
    # without unpacking the whole report for every row.
    landscape_thumbnail = models.JSONField(null=True, blank=True,
                                           help_text="train loss along the first 1D landscape direction")
    sharpness = models.FloatField(null=True, blank=True, help_text="top Hessian eigenvalue")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["homework", "status", "public_score"]),
            models.Index(fields=["homework", "user", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.user} {self.status}"


class Run(models.Model):
    """One sandbox run of a submission: its scoring, or its diagnostics. A run is claimed by one
    worker at a time: each claim adds one to `attempt`, the fencing token a worker must still
    hold to store its result, and holds a lease that the watchdog ends when its worker is lost.
    A rescore makes new runs (the old ones stay, as the submission's history), so each run
    counts its own tries."""

    class Kind(models.TextChoices):
        SCORE = "score"
        DIAGNOSE = "diagnose"

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        FINISHED = "finished"  # a result was stored: `outcome` says which (a verdict, or complete | partial)
        FAILED = "failed"  # the grader failed on it every try: not the student's doing
        CANCELLED = "cancelled"  # the submission was cancelled, or rescored while this run was live

    LIVE_STATES = (State.QUEUED, State.RUNNING)

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    outcome = models.CharField(max_length=32, blank=True, help_text="a verdict, or complete | partial")
    attempt = models.PositiveIntegerField(default=0, help_text="claims so far; a worker's claim holds its number")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True, help_text="the worker of the latest claim")
    backend = models.CharField(max_length=16, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True, help_text="what happened to the run: claims, retries and why (staff only)")

    created_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="last message sent; the watchdog resends")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["submission", "kind"], condition=models.Q(state__in=["queued", "running"]),
            name="one_live_run_per_submission_and_kind")]
        # The watchdog's sweeps (expired leases, stale messages, a restarted worker's runs) and the
        # queue page's tallies.
        indexes = [models.Index(fields=["state", "lease_expires_at"]),
                   models.Index(fields=["kind", "state", "finished_at"])]
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.kind} run #{self.pk} of submission {self.submission_id}: {self.state}"
