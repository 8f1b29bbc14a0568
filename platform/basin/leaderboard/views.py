from __future__ import annotations

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse

from basin.courses import access
from basin.courses.models import Homework, Membership
from basin.courses.selectors import homework_for_viewer, visible_homeworks
from basin.submissions.models import Submission
from basin.submissions.selectors import visible_diagnostics, visible_private_score, visible_scores
from basin_grader import dataset_layout as layout
from basin_grader.diagnostics_trust import trusted

from .selectors import private_leaderboard, public_leaderboard, scored_for_leaderboard_viewer
from .table_cache import fresh_or_stale


def home(request):
    homeworks = visible_homeworks(request.user)
    member_of = set()
    if request.user.is_authenticated:
        member_of = set(Homework.objects.filter(course__memberships__user=request.user).values_list("id", flat=True))
    return render(request, "leaderboard/home.html", {"homeworks": homeworks, "member_of": member_of})


def leaderboard(request, slug: str):
    """The public part; once revealed, the private part (the default) with the shake-up."""
    homework = homework_for_viewer(slug, request.user)
    revealed = access.private_part_visible(homework)
    part = "private" if revealed and request.GET.get("part") != "public" else "public"
    viewer = access.viewer_of(homework.course_id, request.user)
    board = private_leaderboard if part == "private" else public_leaderboard
    # One table per homework, part and what the viewer may see of names (access.names_visible).
    names = "names" if access.names_visible(homework, viewer) else "pseudonyms"
    table = fresh_or_stale(f"leaderboard:{homework.pk}:{part}:{names}",
                           settings.BASIN_LEADERBOARD_CACHE_SECONDS,
                           lambda: render_to_string("leaderboard/_table.html", {
                               "rows": board(homework, viewer), "part": part}))
    return render(request, "leaderboard/leaderboard.html", {
        "homework": homework, "part": part, "revealed": revealed, "role": viewer.role, "table": table,
        "dataset_url": request.build_absolute_uri(reverse("api-homework-dataset", kwargs={"slug": slug})),
        "has_preview": layout.PREVIEW in homework.dataset.manifest.get("files", {})})


def shown_name(submission: Submission, viewer: access.Viewer) -> str:
    """The name a leaderboard shows for it: the course pseudonym where the homework asks for one
    (access.name_visible: its owner and the course's staff see the username)."""
    if submission.is_baseline:
        return f"baseline: {submission.note or submission.original_name}"
    if not access.name_visible(submission, viewer):
        return (Membership.objects.filter(course_id=submission.homework.course_id, user_id=submission.user_id)
                .values_list("pseudonym", flat=True).first() or "a former member")
    return submission.user.get_username()


def _panel(submission: Submission, viewer: access.Viewer) -> dict:
    """What the diagnostics page shows of one submission: numbers only, never its file or logs.
    Why a part failed can quote the student's code, so only its owner and the course's TAs read it."""
    diagnostics = visible_diagnostics(submission, viewer)
    model = diagnostics.get("model")
    if model and model.get("errors") and not access.model_errors_visible(submission, viewer):
        diagnostics["model"] = model = {**model, "errors": {part: "could not be computed for this model"
                                                            for part in model["errors"]}}
    return {
        "id": submission.pk,
        "name": shown_name(submission, viewer),
        "created_at": submission.created_at,
        "public_score": submission.public_score,
        "private_score": visible_private_score(submission),
        "diagnostics_status": submission.get_diagnostics_status_display(),
        "waiting": submission.diagnostics_status in (Submission.DiagnosticsStatus.QUEUED,
                                                     Submission.DiagnosticsStatus.RUNNING),
        "diagnostics": diagnostics,
        "untrusted": model is not None and "trust" in model and not trusted(model),
        "scores": visible_scores(submission, viewer),
    }


def diagnostics(request, submission_id: int):
    """One submission's diagnostics; with ?compare=<id>, two of the same homework side by side."""
    submission = scored_for_leaderboard_viewer(submission_id, request.user)
    shown = [submission]
    other_id = request.GET.get("compare")
    if other_id:
        if not other_id.isdecimal():
            raise Http404("compare= takes the number of another scored submission of this homework.")
        other = scored_for_leaderboard_viewer(int(other_id), request.user)
        if other.homework_id != submission.homework_id:
            raise Http404("Only submissions of the same homework can be compared.")
        shown.append(other)
    viewer = access.viewer_of(submission.homework.course_id, request.user)
    panels = [_panel(s, viewer) for s in shown]
    return render(request, "leaderboard/diagnostics.html", {
        "homework": submission.homework, "panels": panels, "revealed": access.private_part_visible(submission.homework),
        "charts": {str(p["id"]): {"diagnostics": p["diagnostics"], "scores": p["scores"], "name": p["name"]}
                   for p in panels}})
