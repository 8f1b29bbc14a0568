"""Reads for courses, with the visibility rules: who may see which homework."""
from __future__ import annotations

from django.http import Http404

from basin.errors import ApplicationError

from .access import Viewer, is_course_staff, role_in, viewer_of
from .models import Course, Homework


def no_such_homework(slug: str) -> str:
    return (f"No homework {slug!r} in your courses. The slug is in the homework page's address "
            "(/homeworks/<slug>/); join its course with the code from its staff.")


def homework_for_member(slug: str, user) -> tuple[Homework, Viewer]:
    """The homework and who the user is in its course; 404 for anyone outside it (existence hidden)."""
    homework = Homework.objects.select_related("course", "dataset").filter(slug=slug).first()
    viewer = viewer_of(homework.course_id, user) if homework else None
    if homework is None or viewer is None or not viewer.is_member:  # the same words whether it exists or not
        raise Http404(no_such_homework(slug))
    return homework, viewer


def homework_for_viewer(slug: str, user) -> Homework:
    """A public homework (its leaderboard and public data) is open to everyone; a course-only one
    to the course's members."""
    homework = Homework.objects.select_related("course", "dataset").filter(slug=slug).first()
    if homework is None or not (homework.leaderboard_is_public or role_in(homework.course_id, user)):
        raise Http404(no_such_homework(slug))
    return homework


def course_for_staff(slug: str, user) -> Course:
    course = Course.objects.filter(slug=slug).first()
    if course is None or not is_course_staff(user, course.id):
        raise Http404("No such course.")
    return course


def visible_homeworks(user) -> list[Homework]:
    """The homeworks listed on the front page: public leaderboards and the user's own courses."""
    from django.db.models import Q

    q = Q(leaderboard_is_public=True)
    if user.is_authenticated:
        q |= Q(course__memberships__user=user)
    return list(Homework.objects.filter(q).select_related("course").distinct().order_by("-deadline"))


def course_with_join_code(code: str) -> Course:
    """The course that `code` joins; ApplicationError (404) where none does (an empty join code
    means the course is roster-only, so an empty code never matches)."""
    code = code.strip()
    if not code:
        raise ApplicationError("missing_join_code", "Type the join code your course staff gave you.")
    # Exact match first: the unique constraint is case-sensitive, codes typed by people may not be.
    course = Course.objects.filter(join_code=code).first()
    if course is None:
        matches = list(Course.objects.filter(join_code__iexact=code).exclude(join_code="")[:2])
        course = matches[0] if len(matches) == 1 else None
    if course is None:
        raise ApplicationError("unknown_join_code", "No course has this join code; check it with your course staff.")
    return course
