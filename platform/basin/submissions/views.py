"""The student's homework page (description, data, starter notebook, upload, history, final
selection, quota). The page's live parts talk to the same REST API as the `basin` command, with
the browser's session."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse

from basin.courses.dataset_api import public_manifest
from basin.courses.selectors import homework_for_member
from basin.toolkit import install
from basin_grader import dataset_layout as layout

from . import selectors
from .api import quota_body
from .serializers import SubmissionSerializer


@login_required
def homework(request, slug: str):
    homework, viewer = homework_for_member(slug, request.user)
    submissions = selectors.submissions_of(request.user, homework)
    return render(request, "submissions/homework.html", {
        "homework": homework, "role": viewer.role, "staff": viewer.is_staff,
        "manifest": public_manifest(homework, request),
        "has_preview": layout.PREVIEW in homework.dataset.manifest.get("files", {}),
        "install_line": install.install_line(request, "check"), "server": request.build_absolute_uri("/").rstrip("/"),
        "page": {  # what homework.js starts from; it then polls the API
            "slug": homework.slug, "max_upload_bytes": homework.max_upload_mb * 1024 * 1024,
            "final_selections": homework.final_selections, "closes_at": homework.closes_at.isoformat(),
            "quota": quota_body(selectors.quota_of(homework, request.user)),
            "submissions": SubmissionSerializer(submissions, many=True, context={"viewer": viewer}).data,
            "urls": {"submissions": reverse("api-homework-submissions", kwargs={"slug": slug}),
                     "selection": reverse("api-homework-selection", kwargs={"slug": slug}),
                     "homework": reverse("api-homework", kwargs={"slug": slug}),
                     "diagnostics": reverse("diagnostics", kwargs={"submission_id": 0}),
                     "cancel": reverse("api-submission-cancel", kwargs={"submission_id": 0})}},
    })
