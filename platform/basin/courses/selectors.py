"""Reads for courses, with the visibility rules: who may see which homework."""
from __future__ import annotations

from django.http import Http404

from basin.errors import ApplicationError

from .models import Course, Homework, Membership


def role_in(course_id: int, user) -> str | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(course_id=course_id, user=user).values_list("role", flat=True).first()


def no_such_homework(slug: str) -> str:
    return (f"No homework {slug!r} in your courses. The slug is in the homework page's address "
            "(/homeworks/<slug>/); join its course with the code from its staff.")


def homework_for_member(slug: str, user) -> tuple[Homework, str]:
    """The homework and the user's role in its course; 404 for anyone outside it (existence hidden)."""
    homework = Homework.objects.select_related("course", "dataset").filter(slug=slug).first()
    role = role_in(homework.course_id, user) if homework else None
    if homework is None or role is None:  # the same words whether it exists or not
        raise Http404(no_such_homework(slug))
    return homework, role


def homework_for_viewer(slug: str, user) -> Homework:
    """A public homework (its leaderboard and public data) is open to everyone; a course-only one
    to the course's members."""
    homework = Homework.objects.select_related("course", "dataset").filter(slug=slug).first()
    if homework is None or not (homework.leaderboard_is_public or role_in(homework.course_id, user)):
        raise Http404(no_such_homework(slug))
    return homework


def course_for_staff(slug: str, user) -> Course:
    course = Course.objects.filter(slug=slug).first()
    if course is None or role_in(course.id, user) != Membership.Role.TA:
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
        raise ApplicationError("unknown_join_code", "No course has this join code; check it with your course staff.",
                               status_code=404)
    return course
