"""Reads for submissions, with object-level visibility: your own, or any in a course you TA."""
from __future__ import annotations

from django.http import Http404

from basin.courses.models import Membership

from .models import Submission


def submission_for(submission_id: int, user) -> Submission:
    submission = Submission.objects.select_related("homework", "user").filter(pk=submission_id).first()
    if submission is None or not user.is_authenticated:
        raise Http404("No such submission.")
    if submission.user_id != user.id and not Membership.objects.filter(
            course_id=submission.homework.course_id, user=user, role=Membership.Role.TA).exists():
        raise Http404("No such submission.")
    return submission


def submissions_of(user, homework) -> list[Submission]:
    return list(Submission.objects.filter(homework=homework, user=user).select_related("homework").order_by("-created_at"))
