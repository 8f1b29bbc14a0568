from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse

from basin_grader import dataset_layout as layout

from basin.courses.selectors import homework_for_viewer, visible_homeworks

from .selectors import public_leaderboard


def home(request):
    return render(request, "leaderboard/home.html", {"homeworks": visible_homeworks(request.user)})


def leaderboard(request, slug: str):
    homework = homework_for_viewer(slug, request.user)
    return render(request, "leaderboard/leaderboard.html", {
        "homework": homework, "rows": public_leaderboard(homework),
        "dataset_url": request.build_absolute_uri(reverse("api-homework-dataset", kwargs={"slug": slug})),
        "has_preview": layout.PREVIEW in homework.dataset.manifest.get("files", {})})
