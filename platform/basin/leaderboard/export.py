"""Grade export: one row per enrolled student of a homework's course, from the private leaderboard
(final score after the late penalty, rank, entries), as a pandas DataFrame, a CSV download for the
course's TAs, and `manage.py export_grades`. Only after the reveal: before it the private scores
are no one's to see.

A student with no scored submission gets a row with an empty score and rank (0 entries). Ranked
rows of users who are not enrolled students (a TA's own non-baseline test, someone who left the
course) and baselines are not grades and are left out; ranks stay those of the leaderboard.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import Http404, HttpResponse

from basin.courses import access
from basin.courses.models import Homework, Membership
from basin.errors import ApplicationError
from basin.spreadsheet import spreadsheet_safe
from basin.submissions.models import Submission

from .selectors import private_leaderboard

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ["student_id", "name", "username", "final_score", "rank", "entries", "late_penalty"]


def grades_not_final(homework: Homework) -> ApplicationError:
    return ApplicationError("grades_not_final", f"The private leaderboard of {homework.slug} is not revealed yet: "
                            "reveal it first (admin → Homeworks → select it → action \"Reveal the private "
                            "leaderboard\", possible once submissions have closed), then export the grades.")


def grades_frame(homework: Homework) -> pd.DataFrame:
    """Ranked students first (by rank), then those with nothing scored (by student id, username)."""
    import pandas as pd  # here, where the table is built: a web process that exports nothing never loads it

    if not access.private_part_visible(homework):
        raise grades_not_final(homework)
    rows = [r for r in private_leaderboard(homework, access.STAFF) if not r.is_baseline]
    owner = dict(Submission.objects.filter(pk__in=[r.submission_id for r in rows]).values_list("id", "user_id"))
    by_user = {owner[r.submission_id]: r for r in rows}
    records = []
    for m in (Membership.objects.filter(course_id=homework.course_id, role=Membership.Role.STUDENT)
              .select_related("user")):
        row = by_user.get(m.user_id)
        final = None if row is None else row.effective_private_score
        records.append({
            "student_id": m.student_id, "name": m.user.get_full_name() or m.user.get_username(),
            "username": m.user.get_username(),
            "final_score": None if final is None else round(final, 6),
            "rank": None if row is None else row.rank, "entries": 0 if row is None else row.entries,
            "late_penalty": None if row is None else row.late_penalty})
    frame = pd.DataFrame.from_records(records, columns=COLUMNS).astype({
        "student_id": "string", "name": "string", "username": "string", "final_score": "Float64",
        "rank": "Int64", "entries": "Int64", "late_penalty": "Float64"})
    return (frame.sort_values(["rank", "student_id", "username"], na_position="last", kind="stable")
            .reset_index(drop=True))


def grades_csv(homework: Homework) -> str:
    """Names and ids are the students' own words: no cell may run as a formula in a spreadsheet,
    and RFC 4180's CRLF rows quote a cell with a bare CR in it, so it cannot start a row of its own."""
    return spreadsheet_safe(grades_frame(homework)).to_csv(index=False, lineterminator="\r\n")


def grades_csv_view(request, slug: str):
    """The homework's grades as CSV, for its course's TAs (and superusers); 404 for anyone else,
    409 before the reveal (grades_not_final: the grades do not exist yet)."""
    homework = Homework.objects.filter(slug=slug).first()
    staff = request.user.is_authenticated and request.user.is_active and (
        request.user.is_superuser
        or (homework is not None and access.is_course_staff(request.user, homework.course_id)))
    if homework is None or not staff:
        raise Http404("No such homework.")
    try:
        text = grades_csv(homework)
    except ApplicationError as e:
        return HttpResponse(e.message, status=e.status_code, content_type="text/plain; charset=utf-8")
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f"attachment; filename={homework.slug}-grades.csv"
    return response
