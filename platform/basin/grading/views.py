"""The staff's queue page: how the grading queue stands, for the courses the viewer TAs, and
whether the grading workers answer (asked with short timeouts: a dead broker shows a message)."""
from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import render

from basin_grader.verdicts import DEFAULT_MESSAGES

from .fleet import page_timeout, queue_depth, worker_health
from .queue import may_watch, queue_state


def queue(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not may_watch(request.user):
        raise Http404("The queue page is for course staff.")
    state = queue_state(request.user)
    timeout = page_timeout()
    # A worker that holds one of these running runs should answer: the page says when not.
    holders = state.holders()
    health = worker_health(timeout=timeout, expected=holders)
    healthy, reason = health.verdict("scoring")
    return render(request, "grading/queue.html", {
        "state": state, "everything": request.user.is_superuser,
        "failures": [(f.key, f.count, DEFAULT_MESSAGES.get(f.key, "")) for f in state.scoring.failures_24h],
        "health": health, "healthy": healthy, "health_reason": reason, "depth": queue_depth(timeout=timeout),
        "broker_timeout": timeout})
