"""The staff's queue page: how the grading queue stands, for the courses the viewer TAs."""
from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import render

from basin_grader.verdicts import DEFAULT_MESSAGES

from .queue import may_watch, queue_state


def queue(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not may_watch(request.user):
        raise Http404("The queue page is for course staff.")
    state = queue_state(request.user)
    return render(request, "grading/queue.html", {
        "state": state, "everything": request.user.is_superuser,
        "failures": [(f.key, f.count, DEFAULT_MESSAGES.get(f.key, "")) for f in state.scoring.failures_24h]})
