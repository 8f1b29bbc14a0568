"""Submissions in the admin, scoped per course (basin.courses.admin). Grading results are
read-only for everyone: state changes only through the actions, which call the services. The
private part of a score (private_score, scores["private"], scores["all"], trusted_diagnostics["private"])
is shown to nobody, superusers included, before the homework's reveal."""
from __future__ import annotations

import json
from collections import defaultdict

from django import forms
from django.contrib import admin, messages
from django.db.models.constants import LOOKUP_SEP
from django.template.response import TemplateResponse
from django.utils.html import format_html

from basin.courses import access
from basin.courses.admin import CourseScopedAdmin, is_superuser, plural
from basin.errors import ApplicationError

from . import services
from .models import Run, Submission
from .selectors import visible_diagnostics, visible_scores

HIDDEN = "hidden until the reveal"
# Stored fields that hold the private part: never displayed raw, never filtered or sorted on.
PRIVATE_FIELDS = ("private_score", "scores", "trusted_diagnostics")
HIDDEN_FIELDS = ("hidden_log",)  # filtering on it is refused to everyone; superusers read it on the page


def _pretty(value) -> str:
    if not value:
        return "-"
    return format_html("<pre style=\"white-space: pre-wrap; margin: 0\">{}</pre>",
                       json.dumps(value, indent=1, sort_keys=True, default=str))


class DisqualifyForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                             help_text="kept with the submission; the student's leaderboard row disappears")


class Outcome:
    """What an action did and what it skipped, and why, for message_user."""

    def __init__(self):
        self.done: list[int] = []
        self.skipped: dict[str, list[int]] = defaultdict(list)

    def skip(self, submission: Submission, why: str) -> None:
        self.skipped[why].append(submission.pk)

    def report(self, modeladmin: admin.ModelAdmin, request, did: str) -> None:
        if not self.done and not self.skipped:  # the ids posted were none of this user's courses'
            modeladmin.message_user(request, "None of the selected submissions is one you can act on.",
                                    messages.WARNING)
        if self.done:
            ids = ", ".join(f"#{pk}" for pk in self.done)
            modeladmin.message_user(request, f"{did} {plural(len(self.done), 'submission')}: {ids}.",
                                    messages.SUCCESS)
        for why, pks in self.skipped.items():
            ids = ", ".join(f"#{pk}" for pk in pks)
            modeladmin.message_user(request, f"Skipped {plural(len(pks), 'submission')} ({ids}): {why}",
                                    messages.WARNING)


class RunInline(admin.TabularInline):
    """A submission's sandbox runs (scoring and diagnostics), each with its tries and log: read
    only, like every grading result (runs change state in basin.submissions.runs)."""
    model = Run
    extra = 0
    can_delete = False
    fields = readonly_fields = ("kind", "state", "outcome", "attempt", "worker", "backend", "times", "tries")

    class Media:
        css = {"all": ["basin/admin_runs.css"]}  # the page's CSP allows no inline style

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="queued · started · lease · finished")
    def times(self, run: Run) -> str:
        def at(moment):
            return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"
        return format_html("<pre class=\"basin-run-times\">{}</pre>", "\n".join(
            at(m) for m in (run.created_at, run.started_at, run.lease_expires_at, run.finished_at)))

    @admin.display(description="log of its tries")
    def tries(self, run: Run) -> str:
        return format_html("<pre class=\"basin-run-log\">{}</pre>", run.log or "-")


@admin.register(Submission)
class SubmissionAdmin(CourseScopedAdmin):
    course_lookup = "homework__course"
    list_display = ["id", "homework", "user", "is_baseline", "status", "verdict", "public_score", "private",
                    "late_penalty", "disqualified", "diagnostics_status", "created_at"]
    list_filter = [("homework", admin.RelatedOnlyFieldListFilter), "status", "verdict", "is_baseline", "disqualified",
                   "diagnostics_status"]
    list_select_related = ["homework", "user"]
    search_fields = ["user__username", "original_name", "sha256"]
    actions = ["rescore", "cancel", "disqualify", "mark_baseline"]
    fieldsets = [
        (None, {"fields": ["homework", "user", "original_name", "file", "kind", "size", "sha256", "note",
                           "is_baseline", "selected", "late_penalty", "disqualified", "disqualified_reason"]}),
        ("Grading", {"fields": ["status", "verdict", "message", "public_score", "private", "visible_scores",
                                "visible_diagnostics", "log_tail", "hidden_pass_log", "created_at"]}),
        ("Diagnostics", {"fields": ["diagnostics_status", "sandbox_diagnostics"]}),
    ]
    inlines = [RunInline]  # its runs, oldest first: a rescore adds new ones
    # Everything but the note (a baseline's name on the leaderboard) is the grader's or a service's.
    editable = ("note",)

    def course_id_of(self, obj) -> int:
        return obj.homework.course_id

    def get_readonly_fields(self, request, obj=None):
        return [name for fieldset in self.fieldsets for name in fieldset[1]["fields"] if name not in self.editable]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("homework__course")

    def has_add_permission(self, request) -> bool:
        return False  # submissions arrive through the upload, which checks quotas and formats

    def has_delete_permission(self, request, obj=None) -> bool:
        return is_superuser(request)  # TAs cancel or disqualify: the record stays

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        # ?private_score__gt=0.9 would give the private part away through the counts, and
        # ?hidden_log__contains=... the hidden pass's log, byte by byte, where the field is hidden.
        if lookup.split(LOOKUP_SEP)[0] in PRIVATE_FIELDS + HIDDEN_FIELDS:
            return False
        return super().lookup_allowed(lookup, value, request)

    @admin.display(description="log on the hidden test images")
    def hidden_pass_log(self, submission: Submission) -> str:
        return submission.hidden_log

    def get_fieldsets(self, request, obj=None):
        if obj is None or is_superuser(request) or access.hidden_log_visible(obj, access.STAFF):
            return self.fieldsets
        return [(title, {**options, "fields": [f for f in options["fields"] if f != "hidden_pass_log"]})
                for title, options in self.fieldsets]

    @admin.display(description="private score")
    def private(self, submission: Submission):
        if not access.private_part_visible(submission.homework):
            return HIDDEN
        return "-" if submission.private_score is None else submission.private_score

    @admin.display(description="scores")
    def visible_scores(self, submission: Submission):
        shown = visible_scores(submission, access.STAFF)
        if not access.private_part_visible(submission.homework):
            shown = {**shown, **{key: HIDDEN for key in ("private", "all") if key in (submission.scores or {})}}
        return _pretty(shown)

    @admin.display(description="diagnostics (trusted)")
    def visible_diagnostics(self, submission: Submission):
        # sandbox_diagnostics are shown below
        shown = {k: v for k, v in visible_diagnostics(submission, access.STAFF).items() if k != "model"}
        if not access.private_part_visible(submission.homework) and "private" in (submission.trusted_diagnostics or {}):
            shown["private"] = HIDDEN
        return _pretty(shown)

    def _log(self, request, submission: Submission, message: str) -> None:
        self.log_change(request, submission, message)

    @admin.action(description="Rescore (grade again from the stored file)")
    def rescore(self, request, queryset):
        outcome = Outcome()
        for submission in queryset.order_by("pk"):
            if services.rescore(submission):
                outcome.done.append(submission.pk)
                self._log(request, submission, "Rescored: back in the queue.")
            else:
                outcome.skip(submission, "still waiting or running; it will be scored anyway.")
        outcome.report(self, request, "Queued again")

    @admin.action(description="Cancel")
    def cancel(self, request, queryset):
        outcome = Outcome()
        for submission in queryset.order_by("pk"):
            try:
                services.cancel(submission=submission, actor_is_staff=True)
            except ApplicationError as e:  # the service has refreshed the row: its status says why
                why = (f"{submission.status}; only a submission that is waiting or running can be cancelled."
                       if e.code == "not_cancellable" else e.message)
                outcome.skip(submission, why)
                continue
            outcome.done.append(submission.pk)
            self._log(request, submission, "Cancelled.")
        outcome.report(self, request, "Cancelled")

    @admin.action(description="Disqualify…")
    def disqualify(self, request, queryset):
        """Asks for the reason on a confirmation page first, like Django's delete_selected."""
        submissions = list(queryset.select_related("user").order_by("pk"))
        form = DisqualifyForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {**self.admin_site.each_context(request), "title": "Disqualify submissions",
                       "opts": self.opts, "submissions": submissions, "form": form,
                       "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                       "select_across": request.POST.get("select_across", "0")}
            return TemplateResponse(request, "submissions/admin_disqualify.html", context)
        reason = form.cleaned_data["reason"]
        outcome = Outcome()
        for submission in submissions:
            if submission.disqualified:
                outcome.skip(submission, "already disqualified.")
                continue
            services.disqualify(submission, reason)
            outcome.done.append(submission.pk)
            self._log(request, submission, f"Disqualified: {reason}")
        outcome.report(self, request, "Disqualified")
        return None

    @admin.action(description="Mark as baseline")
    def mark_baseline(self, request, queryset):
        outcome = Outcome()
        for submission in queryset.select_related("homework", "user").order_by("pk"):
            try:
                services.mark_baseline(submission)
            except ApplicationError as e:  # the rule is the service's; the admin reports it
                outcome.skip(submission, e.message[0].lower() + e.message[1:])
            else:
                outcome.done.append(submission.pk)
                self._log(request, submission, "Marked as baseline.")
        outcome.report(self, request, "Marked as baseline")
