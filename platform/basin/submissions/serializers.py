"""What the API says about a submission, to the viewer in its context (context["viewer"], a
basin.courses.access.Viewer): every field that depends on who reads it asks that policy."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from basin.courses import access
from basin_grader.verdicts import DEFAULT_MESSAGES

from .models import Run, Submission
from .selectors import visible_diagnostics, visible_private_score

if TYPE_CHECKING:
    from basin.courses.models import Homework


class RunSerializer(serializers.ModelSerializer):
    """One sandbox run of the submission (its scoring or its diagnostics), oldest first: a
    rescore adds new runs. Who ran it and its log of tries are the course staff's."""
    worker = serializers.SerializerMethodField()
    backend = serializers.SerializerMethodField()
    timings = serializers.SerializerMethodField()
    log = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = ["id", "kind", "state", "outcome", "attempt", "created_at", "started_at", "finished_at",
                  "worker", "backend", "timings", "log"]
        read_only_fields = fields

    def _staff(self) -> bool:
        return access.run_details_visible(self.context["viewer"])

    def get_worker(self, run: Run) -> str | None:
        return run.worker if self._staff() else None

    def get_backend(self, run: Run) -> str | None:
        return run.backend if self._staff() else None

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_timings(self, run: Run) -> dict | None:
        return run.timings if self._staff() else None

    def get_log(self, run: Run) -> str | None:
        return run.log if self._staff() else None


def _latest(submission: Submission, kind: str) -> Run | None:
    """Its latest run of a kind (from the prefetched runs where the caller prefetched them)."""
    return next((r for r in reversed(submission.runs.all()) if r.kind == kind), None)


class SubmissionSerializer(serializers.ModelSerializer):
    homework: serializers.SlugRelatedField[Homework] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    private_score = serializers.SerializerMethodField()
    log_tail = serializers.SerializerMethodField()
    hidden_log = serializers.SerializerMethodField()
    message = serializers.SerializerMethodField()
    diagnostics = serializers.SerializerMethodField()
    attempts = serializers.SerializerMethodField(help_text="tries of its latest scoring run")
    started_at = serializers.SerializerMethodField(help_text="when its latest scoring run's latest try began")
    finished_at = serializers.SerializerMethodField(help_text="when its latest scoring run ended")
    runs = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = ["id", "homework", "original_name", "kind", "size", "sha256", "note", "is_baseline", "selected",
                  "status", "late_penalty", "disqualified", "disqualified_reason",
                  "verdict", "message", "log_tail", "hidden_log", "attempts", "public_score", "private_score",
                  "diagnostics", "diagnostics_status", "created_at", "started_at", "finished_at", "runs"]
        read_only_fields = fields

    @property
    def viewer(self) -> access.Viewer:
        return self.context["viewer"]

    def _logs_shown(self, submission: Submission) -> bool:
        return access.logs_visible(submission, self.viewer)

    def get_attempts(self, submission: Submission) -> int:
        run = _latest(submission, Run.Kind.SCORE)
        return run.attempt if run else 0

    def get_started_at(self, submission: Submission) -> datetime | None:
        run = _latest(submission, Run.Kind.SCORE)
        return run.started_at if run else None

    def get_finished_at(self, submission: Submission) -> datetime | None:
        run = _latest(submission, Run.Kind.SCORE)
        return run.finished_at if run else None

    @extend_schema_field(RunSerializer(many=True))
    def get_runs(self, submission: Submission) -> list:
        return list(RunSerializer(submission.runs.all(), many=True, context=self.context).data)

    def get_log_tail(self, submission: Submission) -> str | None:
        """None where the homework hides logs from students; the course's TAs always see them."""
        return submission.log_tail if self._logs_shown(submission) else None

    def get_hidden_log(self, submission: Submission) -> str | None:
        """The run on the hidden test images: None for students, always (access.hidden_log_visible)."""
        return submission.hidden_log if access.hidden_log_visible(submission, self.viewer) else None

    def get_message(self, submission: Submission) -> str:
        # A verdict's message can carry text the sandbox wrote (an exception's), so it is hidden with the logs.
        if self._logs_shown(submission) or not submission.verdict:
            return submission.message
        return DEFAULT_MESSAGES.get(submission.verdict, submission.message)

    def get_private_score(self, submission: Submission) -> float | None:
        return visible_private_score(submission)

    def get_diagnostics(self, submission: Submission) -> dict:
        return visible_diagnostics(submission, self.viewer)
