"""What the API says about a submission, to the viewer in its context (context["viewer"], a
basin.courses.access.Viewer): every field that depends on who reads it asks that policy."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import serializers

from basin.courses import access
from basin_grader.verdicts import DEFAULT_MESSAGES

from .models import Submission
from .selectors import visible_diagnostics, visible_private_score

if TYPE_CHECKING:
    from basin.courses.models import Homework


class SubmissionSerializer(serializers.ModelSerializer):
    homework: serializers.SlugRelatedField[Homework] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    private_score = serializers.SerializerMethodField()
    log_tail = serializers.SerializerMethodField()
    hidden_log = serializers.SerializerMethodField()
    message = serializers.SerializerMethodField()
    diagnostics = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = ["id", "homework", "original_name", "kind", "size", "sha256", "note", "is_baseline", "selected",
                  "status", "late_penalty", "disqualified", "disqualified_reason",
                  "verdict", "message", "log_tail", "hidden_log", "attempts", "public_score", "private_score",
                  "diagnostics", "diagnostics_status", "created_at", "started_at", "finished_at"]
        read_only_fields = fields

    @property
    def viewer(self) -> access.Viewer:
        return self.context["viewer"]

    def _logs_shown(self, submission: Submission) -> bool:
        return access.logs_visible(submission, self.viewer)

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
