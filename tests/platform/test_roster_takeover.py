"""Account takeover through the roster: a student signs up with a classmate's (or a TA's) expected
username and address before the TA imports the roster. The import must leave that line out as a
conflict, enroll and promote no one through it, and import the rest; an owner who confirmed the
address is matched. Also: look-alike usernames, and invisible characters in any roster field."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from basin.courses.models import Course, Membership
from basin.courses.roster import import_roster
from basin.errors import ApplicationError

# Not re-run on PostgreSQL: conflicts and look-alikes are decided in Python, and invisible characters (NUL
# included) are refused before anything is written; test_enrollment.py runs the import itself there.
pytestmark = pytest.mark.django_db
User = get_user_model()
HEADER = "username,email,first_name,last_name,student_id,role\n"
ROSTER = HEADER + ("alice,alice@uni.example,Alice,Arnold,s001,\n"
                   "tara,tara@uni.example,Tara,Tutor,,ta\n"
                   "bob,bob@uni.example,Bob,Baker,s002,\n")


def sign_up(course, username: str, email: str, client: Client | None = None):
    client = client or Client()
    done = client.post(reverse("signup"), {"code": course.join_code, "username": username, "email": email,
                                           "password1": "a-long-passphrase-9", "password2": "a-long-passphrase-9"})
    assert done.status_code == 302, done.content.decode()[-2000:]
    return client


def membership(course, username: str):
    return Membership.objects.filter(course=course, user__username=username).first()


def test_a_squatter_on_a_tas_username_and_address_gets_no_rights(course):
    other = Course.objects.get(slug="cv201")  # any course's join code will do
    sign_up(other, "tara", "tara@uni.example")
    summary = import_roster(course=course, data=ROSTER.encode())
    assert summary.created == ["alice", "bob"]  # the rest of the file is imported
    assert [(c["line"], c["column"]) for c in summary.conflicts] == [(3, "username")]
    assert "has not confirmed tara@uni.example" in summary.conflicts[0]["message"]
    assert "Nothing on this line was applied" in summary.conflicts[0]["message"]
    tara = User.objects.get(username="tara")
    assert not tara.is_staff and membership(course, "tara") is None
    assert [link.username for link in summary.links] == ["alice", "bob"]


def test_a_squatter_already_in_the_course_is_not_bound_to_the_classmate(course):
    sign_up(course, "bob", "bob@uni.example")  # joined with the course's own code, as a student
    summary = import_roster(course=course, data=ROSTER.replace("s002,", "s002,ta").encode())
    assert [c["line"] for c in summary.conflicts] == [4]
    squatter = membership(course, "bob")
    assert (squatter.role, squatter.student_id, squatter.user.first_name) == ("student", "", "")
    assert not squatter.user.is_staff


def test_an_account_another_courses_roster_made_is_not_promoted_here(course):
    other = Course.objects.get(slug="cv201")
    import_roster(course=other, data=(HEADER + "carl,carl@uni.example,Carl,C,s9,\n").encode())
    summary = import_roster(course=course, data=(HEADER + "carl,carl@uni.example,Carl,C,s9,ta\n").encode())
    assert [c["line"] for c in summary.conflicts] == [2]
    assert membership(course, "carl") is None and not User.objects.get(username="carl").is_staff


def test_the_owner_who_confirmed_the_address_is_matched_and_promoted(course, smtp_server):
    from basin.accounts.selectors import has_confirmed

    client = sign_up(Course.objects.get(slug="cv201"), "tara", "tara@uni.example")
    link = smtp_server.links("tara@uni.example")[0]
    client.get(urlsplit(link).path)
    assert has_confirmed(User.objects.get(username="tara"), "tara@uni.example")
    summary = import_roster(course=course, data=ROSTER.encode())
    assert summary.conflicts == [] and summary.updated == ["tara"]
    assert membership(course, "tara").role == "ta" and User.objects.get(username="tara").is_staff


def test_conflicts_reach_the_ta_through_the_api_and_the_command(api, course, tmp_path, capsys):
    sign_up(course, "tara", "tara@uni.example")
    answer = api("ta").post("/api/courses/dl101/roster/",
                            {"file": SimpleUploadedFile("roster.csv", ROSTER.encode())}, format="multipart")
    assert answer.status_code == 200
    assert [(c["line"], c["column"]) for c in answer.json()["conflicts"]] == [(3, "username")]
    assert membership(course, "tara").role == "student"
    source = tmp_path / "roster.csv"
    source.write_text(ROSTER)
    call_command("import_roster", "dl101", str(source))
    err = capsys.readouterr().err
    assert "1 lines were left out" in err and "line 3: 'tara' is an account this roster did not create" in err


# --- look-alike usernames --------------------------------------------------------------------

@pytest.mark.parametrize("username, says", [
    ("\u0430lice", "may contain only the ASCII letters"),  # a Cyrillic а
    ("ali\u200bce", "may contain only the ASCII letters"),  # a zero-width space
    ("aIice", "looks like another account"),  # a capital I for the l
    ("a1ice", "looks like another account"),
])
def test_sign_up_refuses_a_username_that_could_pass_for_another(course, username, says):
    User.objects.create_user(username="alice", password="x")
    page = Client().post(reverse("signup"), {"code": course.join_code, "username": username,
                                             "email": "x@uni.example", "password1": "a-long-passphrase-9",
                                             "password2": "a-long-passphrase-9"})
    assert page.status_code == 200 and says in page.content.decode()
    assert User.objects.count() == 6


def test_the_admins_user_pages_refuse_them_too(people):
    User.objects.create_user(username="alice", password="x")
    root = User.objects.create_superuser(username="root", password="x")
    client = Client()
    client.force_login(root)
    form = {"password1": "a-long-passphrase-9", "password2": "a-long-passphrase-9", "usable_password": "true"}
    for username, says in (("\u0430lice", "may contain only the ASCII letters"), ("a1ice", "looks like another")):
        page = client.post("/admin/auth/user/add/", {**form, "username": username})
        assert page.status_code == 200 and says in page.content.decode(), username
    outsider = people["outsider"]
    change = client.get(f"/admin/auth/user/{outsider.pk}/change/").context["adminform"].form.initial
    fields = {k: v for k, v in change.items() if v is not None and k in ("email", "first_name", "last_name")}
    renamed = client.post(f"/admin/auth/user/{outsider.pk}/change/", {**fields, "username": "aIice",
                                                                     "is_active": "on", "date_joined_0": "2026-01-01",
                                                                     "date_joined_1": "00:00:00"})
    assert renamed.status_code == 200 and "looks like another" in renamed.content.decode()
    assert User.objects.filter(username__in=["\u0430lice", "a1ice", "aIice"]).count() == 0


def test_the_roster_refuses_look_alikes_in_the_file_and_leaves_out_those_of_existing_accounts(course):
    refused = HEADER + "\u0430lice,a1@uni.example,A,A,s1,\nbob,b@uni.example,B,B,s2,\nb0b,b0@uni.example,B,O,s3,\n"
    with pytest.raises(ApplicationError) as e:
        import_roster(course=course, data=refused.encode())
    problems = {p["line"]: p["message"] for p in e.value.details["problems"]}
    assert set(problems) == {2, 4} and "may contain only the ASCII letters" in problems[2]
    assert "looks like 'bob' on line 3" in problems[4]
    User.objects.create_user(username="rnary", password="x")
    summary = import_roster(course=course, data=(HEADER + "mary,m@uni.example,M,M,s4,ta\n"
                                                 "zoe,z@uni.example,Z,Z,s5,\n").encode())
    assert summary.created == ["zoe"] and [c["line"] for c in summary.conflicts] == [2]
    assert "looks like the existing account 'rnary'" in summary.conflicts[0]["message"]
    assert not User.objects.filter(username="mary").exists()


@pytest.mark.parametrize("existing, newcomer", [
    ("savvvy", "savwy"), ("vw", "wv"), ("vvv", "vw"), ("vvvw", "wvvv"), ("VVv", "vW"), ("wm", "vvrn"),
    ("clcl", "dd"), ("Mo0d", "rnOocl"),
])
def test_overlapping_look_alikes_are_one_name(course, existing, newcomer):
    """F12: the skeleton replaced sequences in turn, so "vvv" became "wv" and never matched "vw"."""
    User.objects.create_user(username=existing, password="x")
    page = Client().post(reverse("signup"), {"code": course.join_code, "username": newcomer,
                                             "email": "x@uni.example", "password1": "a-long-passphrase-9",
                                             "password2": "a-long-passphrase-9"})
    assert page.status_code == 200 and "looks like another account" in page.content.decode()
    with pytest.raises(ApplicationError) as e:  # two lines of one roster, too
        import_roster(course=course, data=f"{HEADER}x{existing},a@uni.example,A,A,s1,\n"
                                          f"x{newcomer},b@uni.example,B,B,s2,\n".encode())
    assert f"looks like 'x{existing}' on line 2" in e.value.details["problems"][0]["message"]


def test_names_that_only_share_letters_stay_apart():
    from basin.accounts.usernames import skeleton

    for one, other in (("vivid", "wid"), ("world", "vvorld1"), ("dim", "clirn1"), ("maud", "rnaucl0")):
        assert skeleton(one) != skeleton(other), (one, other)


# --- invisible characters in roster fields ---------------------------------------------------

FIELDS = ("username", "email", "first_name", "last_name", "student_id", "role")
CLEAN = {"username": "dora", "email": "dora@uni.example", "first_name": "Dora", "last_name": "Diaz",
         "student_id": "s77", "role": "student"}


@pytest.mark.parametrize("column", FIELDS)
@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x85", "\u202e", "\u2066", "\ufeff"],
                         ids=["NUL", "ESC", "DEL", "NEL", "RLO", "LRI", "BOM"])
def test_an_invisible_character_in_any_field_is_a_problem_with_its_line(api, course, column, char):
    values = dict(CLEAN, **{column: CLEAN[column][:2] + char + CLEAN[column][2:]})
    text = HEADER + "erin,erin@uni.example,Erin,E,s1,\n" + ",".join(values[c] for c in FIELDS) + "\n"
    answer = api("ta").post("/api/courses/dl101/roster/",
                            {"file": SimpleUploadedFile("roster.csv", text.encode())}, format="multipart")
    assert answer.status_code == 400, answer.content
    problems = answer.json()["error"]["details"]["problems"]
    assert [(p["line"], p["column"]) for p in problems] == [(3, column)]
    assert f"(U+{ord(char):04X}) at position 3" in problems[0]["message"]
    assert not User.objects.filter(username__in=["erin", "dora"]).exists()


def test_the_command_names_the_line_of_a_nul_byte(course, tmp_path):
    source = tmp_path / "roster.csv"
    source.write_bytes((HEADER + "dora,dora@uni.example,Do\x00ra,D,s1,\n").encode())
    with pytest.raises(CommandError) as refused:
        call_command("import_roster", "dl101", str(source))
    assert "line 2: first_name holds an invisible control character (U+0000)" in str(refused.value)
