"""The student's homework page (description, data, starter notebook, upload, history, final
selection, quota) and the starter notebook download. The page's live parts talk to the same
REST API as the `basin` command, with the browser's session."""
from __future__ import annotations

import json
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from basin.submissions import selectors as submission_selectors
from basin.submissions.serializers import SubmissionSerializer
from basin.submissions.services import quota_of
from basin.toolkit import install
from basin.toolkit import wheel as toolkit
from basin_grader import dataset_layout as layout

from .api import quota_body
from .dataset_api import public_manifest
from .models import Membership
from .selectors import homework_for_member

logger = logging.getLogger(__name__)


@login_required
def homework(request, slug: str):
    homework, role = homework_for_member(slug, request.user)
    staff = role == Membership.Role.TA
    submissions = submission_selectors.submissions_of(request.user, homework)
    return render(request, "courses/homework.html", {
        "homework": homework, "role": role, "staff": staff,
        "manifest": public_manifest(homework, request),
        "has_preview": layout.PREVIEW in homework.dataset.manifest.get("files", {}),
        "install_line": install.install_line(request, "check"), "server": request.build_absolute_uri("/").rstrip("/"),
        "page": {  # what homework.js starts from; it then polls the API
            "slug": homework.slug, "max_upload_bytes": homework.max_upload_mb * 1024 * 1024,
            "final_selections": homework.final_selections, "closes_at": homework.closes_at.isoformat(),
            "quota": quota_body(quota_of(homework, request.user)),
            "submissions": SubmissionSerializer(submissions, many=True, context={"viewer_is_staff": staff}).data,
            "urls": {"submissions": reverse("api-homework-submissions", kwargs={"slug": slug}),
                     "selection": reverse("api-homework-selection", kwargs={"slug": slug}),
                     "homework": reverse("api-homework", kwargs={"slug": slug}),
                     "diagnostics": reverse("diagnostics", kwargs={"submission_id": 0}),
                     "cancel": reverse("api-submission-cancel", kwargs={"submission_id": 0})}},
    })


@login_required
def starter_notebook(request, slug: str):
    """The starter notebook with this site's address and the homework's slug filled in."""
    homework, _ = homework_for_member(slug, request.user)
    path = settings.BASIN_STARTER_NOTEBOOK
    if not path.is_file():
        raise Http404("This installation has no starter notebook; ask the course staff for it.")
    filled = {"--extra-index-url https://YOUR-BASIN/simple/": install.index_options(request),
              "https://YOUR-BASIN": request.build_absolute_uri("/").rstrip("/"),
              'HOMEWORK = "HOMEWORK"': f'HOMEWORK = "{homework.slug}"',
              # pinned to this server's build, which no other index can hold (basin.toolkit.install);
              # the stored notebook's placeholder is no version at all, so unfilled it installs nothing
              f"{toolkit.DISTRIBUTION}[check]==FILLED-IN-BY-YOUR-BASIN":
                  f"{toolkit.DISTRIBUTION}[check]=={toolkit.current_version()}"}
    notebook = json.loads(path.read_text(encoding="utf-8"))
    sources = "".join("".join(cell["source"]) for cell in notebook["cells"])
    missing = [placeholder for placeholder in filled if placeholder not in sources]
    if missing:  # e.g. a course's own notebook whose install line Basin cannot pin: it is not handed out
        logger.error("starter notebook %s lacks the placeholders %s", path, ", ".join(missing))
        raise Http404("This installation's starter notebook is not one Basin can fill in; ask the course staff.")
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        for placeholder, value in filled.items():
            source = source.replace(placeholder, value)
        cell["source"] = source.splitlines(keepends=True)
    text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    response = HttpResponse(text, content_type="application/x-ipynb+json")
    response["Content-Disposition"] = f'attachment; filename="{homework.slug}-starter.ipynb"'
    return response
