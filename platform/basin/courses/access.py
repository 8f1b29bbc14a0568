"""Who is looking, and what they may see: Basin's one access and visibility policy. The API, the
pages, the admin, the exports and the leaderboard's cache ask it; none of them states a rule.

- Course staff are a course's TAs (Membership role "ta"). Django's is_staff only opens the
  admin's door; inside, a TA acts on the courses they TA, a superuser on all.
- The private part of the test split (its scores, the whole split's, the diagnostics computed on
  it) is nobody's before the homework's reveal, the course staff's included: it is what the final
  ranking is decided on, so no one reads it early.
- Before the reveal, numbers from the hidden splits reach students only as a rounded summary
  (basin.submissions.selectors); the course staff read them in full.
- A submission's logs: the rehearsal's (public images) are its student's unless the homework hides
  logs from students; the hidden pass's never are, and are the course staff's where the course
  lets them read it.
- Names: a pseudonymous homework shows students each other's course pseudonyms; the course staff,
  and a submission's own student, see names.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from .models import Course, Homework, Membership


@dataclass(frozen=True)
class Viewer:
    """A person looking at one course's things: who, and their role there (None: not a member)."""
    user_id: int | None
    role: str | None

    @property
    def is_staff(self) -> bool:
        """The course's staff: its TAs."""
        return self.role == Membership.Role.TA

    @property
    def is_member(self) -> bool:
        return self.role is not None

    def owns(self, submission) -> bool:
        return self.user_id is not None and submission.user_id == self.user_id


STAFF = Viewer(user_id=None, role=Membership.Role.TA)  # a course's staff in general: exports, the admin
NOBODY = Viewer(user_id=None, role=None)  # someone not logged in


def role_in(course_id: int, user) -> str | None:
    """The user's role in a course (None: not a member, or not logged in)."""
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(course_id=course_id, user=user).values_list("role", flat=True).first()


def viewer_of(course_id: int, user) -> Viewer:
    """Who `user` is in the course (one query)."""
    return Viewer(user_id=user.pk if user.is_authenticated else None, role=role_in(course_id, user))


def staff_course_ids(user) -> QuerySet:
    """The ids of the courses `user` is staff of (a queryset: as a filter's subquery it costs no
    query of its own)."""
    return Membership.objects.filter(user=user, role=Membership.Role.TA).values_list("course_id", flat=True)


def is_course_staff(user, course_id: int | None = None) -> bool:
    """Whether `user` is staff of this course (course_id None: of any course)."""
    if not user.is_authenticated:
        return False
    mine = Membership.objects.filter(user=user, role=Membership.Role.TA)
    return (mine if course_id is None else mine.filter(course_id=course_id)).exists()


# --- what a viewer may see -------------------------------------------------------------------------
def private_part_visible(homework: Homework) -> bool:
    """The private part of the test split (its scores and diagnostics, and the whole split's): to
    everyone after the reveal, to no one before it."""
    return homework.private_is_revealed


def hidden_split_detail_visible(homework: Homework, viewer: Viewer) -> bool:
    """Numbers from the hidden splits in full (not only a rounded summary): the course staff's, and
    everyone's after the reveal."""
    return viewer.is_staff or private_part_visible(homework)


def report_checks_visible(viewer: Viewer) -> bool:
    """Which of the worker's checks a diagnostics report failed (not only whether it is trusted)."""
    return viewer.is_staff


def run_details_visible(viewer: Viewer) -> bool:
    """Which worker ran a run, on which backend, how long it took, and its log of tries and
    infrastructure errors: the course staff's (a student sees each run's state and outcome)."""
    return viewer.is_staff


def logs_visible(submission, viewer: Viewer) -> bool:
    """The rehearsal's log and a failure's own message: the homework may hide them from students."""
    return viewer.is_staff or submission.homework.show_logs_to_students


def hidden_log_visible(submission, viewer: Viewer) -> bool:
    """What a submission printed on the hidden test images: never its student's to read (it could
    carry hidden images out); the course staff's where the course lets them, the default."""
    return viewer.is_staff and submission.homework.course.hidden_log_readers == Course.HiddenLogReaders.TAS


def model_errors_visible(submission, viewer: Viewer) -> bool:
    """The sandbox's own error texts in a diagnostics report: the model's words, its owner's and staff's."""
    return viewer.is_staff or viewer.owns(submission)


def names_visible(homework: Homework, viewer: Viewer) -> bool:
    """Usernames on the homework's leaderboards, rather than course pseudonyms."""
    return viewer.is_staff or not homework.pseudonymous_leaderboard


def name_visible(submission, viewer: Viewer) -> bool:
    """The username of one submission's student: theirs to see, and where names are shown."""
    return viewer.owns(submission) or names_visible(submission.homework, viewer)
