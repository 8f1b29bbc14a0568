"""What the API says about a submission. Private-part scores appear only after the reveal."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import serializers

from basin_grader.verdicts import DEFAULT_MESSAGES

from .models import Submission
from .selectors import hidden_log_readable, visible_diagnostics

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

    def _logs_shown(self, submission: Submission) -> bool:
        return submission.homework.show_logs_to_students or bool(self.context.get("viewer_is_staff"))

    def get_log_tail(self, submission: Submission) -> str | None:
        """None where the homework hides logs from students; the course's TAs always see them."""
        return submission.log_tail if self._logs_shown(submission) else None

    def get_hidden_log(self, submission: Submission) -> str | None:
        """The run on the hidden test images: None for students, always (see selectors.hidden_log_readable)."""
        readable = hidden_log_readable(submission, bool(self.context.get("viewer_is_staff")))
        return submission.hidden_log if readable else None

    def get_message(self, submission: Submission) -> str:
        # A verdict's message can carry text the sandbox wrote (an exception's), so it is hidden with the logs.
        if self._logs_shown(submission) or not submission.verdict:
            return submission.message
        return DEFAULT_MESSAGES.get(submission.verdict, submission.message)

    def get_private_score(self, submission: Submission) -> float | None:
        return submission.private_score if submission.homework.private_is_revealed else None

    def get_diagnostics(self, submission: Submission) -> dict:
        return visible_diagnostics(submission, full=bool(self.context.get("viewer_is_staff")))
