"""Enrollment: a TA imports the roster (file, command or API), new accounts choose their password
through a one-time link, students join with the course's join code (API, page or sign-up)."""
from __future__ import annotations

import csv
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from basin.accounts.models import ConfirmedEmail
from basin.courses.models import Course, Membership
from basin.courses.roster import import_roster
from basin.errors import ApplicationError

# The tests marked database_sensitive are re-run on PostgreSQL (tests/platform/test_on_postgres.py).
pytestmark = pytest.mark.django_db
User = get_user_model()

# What a spreadsheet in a European locale saves as "CSV UTF-8": a byte-order mark, ';', headers in
# any case with stray spaces, a column Basin does not use, a blank role.
ROSTER = ("\ufeffUsername ; EMAIL;First_Name;last_name; Student_ID ;Role;Programme\n"
          "alice;alice@Uni.EXAMPLE;Alice;Arnold;s001;;CS\n"
          "bob;bob@uni.example;Bob;Baker;s002;student;CS\n"
          "tara;tara@uni.example;Tara;Tutor;;TA;staff\n")


def roster(text: str) -> bytes:
    return text.encode("utf-8")


def imported(course, text: str, **kwargs):
    return import_roster(course=course, data=roster(text), base_url="http://basin.test", **kwargs)


def problems_of(course, text: str) -> list[tuple[int, str]]:
    """The (line, message) of each problem an import refuses the file for; it must write nothing."""
    users, members = User.objects.count(), Membership.objects.count()
    with pytest.raises(ApplicationError) as refused:
        imported(course, text)
    assert (User.objects.count(), Membership.objects.count()) == (users, members)
    return [(p["line"], p["message"]) for p in refused.value.details["problems"]]


def confirm(user, email: str) -> None:
    """As if `user` had opened the confirmation link sent to `email` (tests/platform/test_email_confirmation.py)."""
    ConfirmedEmail.objects.create(user=user, email=email.lower())


def role(course, username: str) -> str | None:
    return Membership.objects.filter(course=course, user__username=username).values_list("role", flat=True).first()


# --- the roster file ---------------------------------------------------------------------------

# the import on PostgreSQL: look-alikes read through a server-side cursor (.iterator()), Lower() matching, bulk_create
@pytest.mark.database_sensitive
def test_a_roster_creates_accounts_without_passwords_and_enrolls_them(course):
    summary = imported(course, ROSTER)
    assert (summary.created, summary.updated, summary.unchanged) == (["alice", "bob", "tara"], [], [])
    assert summary.not_in_roster == ["other_student", "student", "ta"]  # reported, still members
    assert role(course, "student") == "student"
    alice = User.objects.get(username="alice")
    assert (alice.email, alice.first_name, alice.last_name) == ("alice@uni.example", "Alice", "Arnold")
    assert not alice.has_usable_password() and not alice.is_staff
    assert Membership.objects.get(course=course, user=alice).student_id == "s001"
    assert role(course, "alice") == "student" and role(course, "bob") == "student"  # a blank role is a student
    assert role(course, "tara") == "ta" and User.objects.get(username="tara").is_staff  # TAs may use the admin
    assert all(Membership.objects.filter(course=course).values_list("pseudonym", flat=True))
    assert [link.username for link in summary.links] == ["alice", "bob", "tara"]
    assert all(re.fullmatch(r"http://basin\.test/accounts/set-password/[\w-]+/[\w-]+/", link.link)
               for link in summary.links)


def test_a_comma_separated_roster_without_a_role_column_lists_students(course):
    summary = imported(course, "username,email,first_name,last_name,student_id\ncarl,carl@uni.example,Carl,,s9\n")
    assert summary.created == ["carl"] and role(course, "carl") == "student"


def test_importing_again_changes_nothing_and_a_changed_file_updates_in_place(course, people):
    imported(course, ROSTER)
    again = imported(course, ROSTER)
    assert (again.created, again.updated, again.links) == ([], [], [])
    assert again.unchanged == ["alice", "bob", "tara"]
    assert User.objects.filter(username__in=["alice", "bob", "tara"]).count() == 3
    assert Membership.objects.filter(course=course).count() == 6
    pseudonym = Membership.objects.get(course=course, user__username="alice").pseudonym

    changed = ROSTER.replace("alice@Uni.EXAMPLE", "alice@new.example").replace("s002", "s002b").replace(";TA;", ";;")
    changed += "student;student@uni.example;Stu;Dent;s100;ta;\n"  # a member already, by sign-up
    confirm(people["student"], "student@uni.example")  # so the roster may bind and promote their account
    summary = imported(course, changed)
    assert summary.updated == ["alice", "bob", "tara", "student"] and summary.created == []
    alice = Membership.objects.get(course=course, user__username="alice")
    assert alice.user.email == "alice@new.example" and alice.pseudonym == pseudonym  # same membership
    assert Membership.objects.get(course=course, user__username="bob").student_id == "s002b"
    assert role(course, "tara") == "student" and role(course, "student") == "ta"
    assert User.objects.get(username="student").check_password("student-password-1")  # their password kept
    assert Membership.objects.filter(course=course).count() == 6


# matched without case in the database: Lower() and iexact fold case differently on each engine
@pytest.mark.database_sensitive
def test_an_existing_account_is_matched_whatever_the_case_and_enrolled(course, people):
    people["outsider"].email = "Out@uni.example"  # the same person: the roster's email is theirs, confirmed
    people["outsider"].save()
    confirm(people["outsider"], "Out@uni.example")
    summary = imported(course, "username,email,first_name,last_name,student_id\n"
                               "OUTSIDER,out@uni.example,Out,Sider,s7\n")
    assert summary.updated == ["outsider"] and summary.created == [] and summary.links == []
    assert role(course, "outsider") == "student"
    assert User.objects.filter(username__iexact="outsider").count() == 1


def test_every_problem_is_reported_with_its_line_and_nothing_is_written(course):
    text = ("username,email,first_name,last_name,student_id,role\n"
            "good,good@uni.example,Good,One,s1,\n"       # line 2: fine, yet not written either
            ",nobody@uni.example,No,Body,s2,\n"          # 3
            "\n"                                         # 4: a blank line keeps the numbering
            "bad name,bad@uni.example,Bad,Name,s3,\n"   # 5
            "mail,not-an-email,M,L,s4,\n"               # 6
            "nomail,,N,M,s5,\n"                          # 7
            "prof,prof@uni.example,P,R,s6,professor\n"  # 8
            "Good,good2@uni.example,Good,Two,s7,\n"     # 9: the same username as line 2
            f"long,long@uni.example,L,O,{'9' * 65},\n")  # 10
    found = problems_of(course, text)
    assert [line for line, _ in found] == [3, 5, 6, 7, 8, 9, 10]
    messages = dict(found)
    assert "username is empty" in messages[3]
    assert "'bad name' may contain only the ASCII letters" in messages[5]
    assert "'not-an-email' is not an email address" in messages[6]
    assert "email is empty" in messages[7]
    assert "role 'professor' is unknown; write ta or student" in messages[8]
    assert "also on line 2" in messages[9]
    assert "student_id is 65 characters long" in messages[10]
    assert not User.objects.filter(username="good").exists()


def test_the_message_itself_names_the_lines(course):
    with pytest.raises(ApplicationError) as refused:
        imported(course, "username,email,first_name,last_name,student_id\nx,nope,a,b,c\n")
    assert refused.value.code == "invalid_roster"
    message = refused.value.message
    assert "1 problem, so nothing was imported" in message and "line 2: email 'nope'" in message


def test_a_header_without_a_required_column_is_refused_on_line_1(course):
    found = problems_of(course, "user,email,first_name,student_id\nalice,a@uni.example,A,s1\n")
    assert len(found) == 1 and found[0][0] == 1
    assert "'username', 'last_name'" in found[0][1] and "it has 'user', 'email'" in found[0][1]
    assert "appears twice" in problems_of(course, "username,Username,email,first_name,last_name,student_id\n"
                                                  "a,b,c@uni.example,d,e,f\n")[0][1]


@pytest.mark.parametrize("data, says", [
    (b"", "The roster file is empty"),
    (b"username,email,first_name,last_name,student_id\n", "lists no one"),
    ("username;email;first_name;last_name;student_id\nj\xf6rg;j@uni.example;J;K;1\n".encode("latin-1"), "CSV UTF-8"),
    (b"username,email,first_name,last_name,student_id\na,a@x.org,A,B,1,extra\n", "more fields than the header"),
    (b"username,email,first_name,last_name,student_id\na,a@x.org,A,B,1\nb,b@x.org,A,B,1,2\n", "line 3"),
])
def test_files_that_are_not_a_roster_get_a_message_that_says_what_to_do(course, data, says):
    with pytest.raises(ApplicationError) as refused:
        import_roster(course=course, data=data)
    assert says in refused.value.message
    assert not User.objects.exclude(username__in=["ta", "student", "other_student", "other_ta", "outsider"]).exists()


def test_a_dry_run_says_what_would_change_and_writes_nothing(course):
    summary = imported(course, ROSTER, dry_run=True)
    assert summary.dry_run and summary.created == ["alice", "bob", "tara"] and summary.links == []
    assert not User.objects.filter(username="alice").exists()
    imported(course, ROSTER)
    changed = imported(course, ROSTER.replace("s001", "s001x"), dry_run=True)
    assert changed.updated == ["alice"] and Membership.objects.get(user__username="alice").student_id == "s001"


def test_relink_gives_new_links_only_to_this_courses_members_still_without_a_password(course, people):
    imported(course, ROSTER)
    other = Course.objects.get(slug="cv201")
    Membership.objects.create(course=other, user=User.objects.get(username="bob"), role="student")
    tara = User.objects.get(username="tara")
    tara.set_password("tara-chose-one-1")
    tara.save()
    people["outsider"].email = "o@uni.example"
    people["outsider"].save()
    confirm(people["outsider"], "o@uni.example")
    summary = imported(course, ROSTER + "outsider;o@uni.example;O;S;s9;;\n", relink=True)
    # bob belongs to another course too, tara chose a password, outsider was not a member before.
    assert [link.username for link in summary.links] == ["alice"]
    assert imported(course, ROSTER).links == []  # only when asked


# --- the set-password link ---------------------------------------------------------------------

def test_the_set_password_link_works_once_end_to_end(course):
    link = imported(course, ROSTER).links[0]
    path = link.link.removeprefix("http://basin.test")
    client = Client()
    opened = client.get(path)
    assert opened.status_code == 302  # the token moves to the session, out of the address bar
    form = client.get(opened["Location"])
    assert form.status_code == 200 and b"alice" in form.content and b"csrfmiddlewaretoken" in form.content
    weak = client.post(opened["Location"], {"new_password1": "abc", "new_password2": "abc"})
    assert weak.status_code == 200 and b"too short" in weak.content
    done = client.post(opened["Location"], {"new_password1": "a-long-passphrase-9", "new_password2":
                                            "a-long-passphrase-9"}, follow=True)
    assert done.redirect_chain[-1][0] == reverse("join") and b"Your password is set" in done.content
    assert b"Deep Learning 101" in done.content  # logged in: the join page lists their course

    fresh = Client()
    logged_in = fresh.post(reverse("login"), {"username": "alice", "password": "a-long-passphrase-9"})
    assert logged_in.status_code == 302 and logged_in["Location"] == "/"
    assert fresh.get(reverse("join")).status_code == 200
    used = Client().get(path)
    assert used.status_code == 200 and b"This link does not work" in used.content


def test_a_mangled_link_shows_a_page_not_an_error():
    for path in ("/accounts/set-password/zzzz/abc-def/", "/accounts/set-password/MQ/set-password/",
                 "/accounts/set-password/%F0%9F%98%80/x/"):
        page = Client().get(path)
        assert page.status_code == 200 and b"This link does not work" in page.content, path


# --- the command -------------------------------------------------------------------------------

def test_the_command_imports_and_writes_the_links_for_the_ta(course, tmp_path, capsys):
    source = tmp_path / "roster.csv"
    source.write_bytes(roster(ROSTER))
    out = tmp_path / "links.csv"
    call_command("import_roster", "dl101", str(source), "--dry-run")
    assert "dry run" in capsys.readouterr().out and not User.objects.filter(username="alice").exists()
    call_command("import_roster", "dl101", str(source), "--links", str(out), "--base-url", "https://basin.example/")
    printed = capsys.readouterr().out
    assert "created       3  alice, bob, tara" in printed and "3 set-password links written" in printed
    rows = list(csv.DictReader(out.open()))
    assert [r["username"] for r in rows] == ["alice", "bob", "tara"] and rows[0]["email"] == "alice@uni.example"
    assert rows[0]["link"].startswith("https://basin.example/accounts/set-password/")
    assert out.stat().st_mode & 0o777 == 0o600  # the links are secrets
    with pytest.raises(CommandError, match="exists already"):  # a second run must not lose the first links
        call_command("import_roster", "dl101", str(source), "--links", str(out))
    call_command("import_roster", "dl101", str(source))
    assert "unchanged     3" in capsys.readouterr().out


def test_the_command_lists_every_problem_and_names_unknown_courses(course, tmp_path):
    source = tmp_path / "roster.csv"
    source.write_text("username,email,first_name,last_name,student_id\n,a@x.org,A,B,1\nb,nope,A,B,2\n")
    with pytest.raises(CommandError) as refused:
        call_command("import_roster", "dl101", str(source))
    assert "nothing was imported" in str(refused.value)
    assert "line 2: username is empty" in str(refused.value) and "line 3: email 'nope'" in str(refused.value)
    with pytest.raises(CommandError, match="no course 'nope' \\(courses: cv201, dl101\\)"):
        call_command("import_roster", "nope", str(source))


# --- the roster API ----------------------------------------------------------------------------

def upload(client, slug: str, text: str, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(f"/api/courses/{slug}/roster/", {"file": SimpleUploadedFile("roster.csv", roster(text)),
                                                        **fields}, format="multipart")


def test_only_the_courses_tas_can_import_its_roster(api, course):
    assert upload(api(None), "dl101", ROSTER).status_code == 401
    for outsider in ("student", "other_ta", "outsider"):  # the course's existence stays hidden
        refused = upload(api(outsider), "dl101", ROSTER)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found", outsider
    assert not User.objects.filter(username="alice").exists()
    assert upload(api("ta"), "nope", ROSTER).status_code == 404


def test_a_ta_imports_through_the_api(api, course):
    dry = upload(api("ta"), "dl101", ROSTER, dry_run="true")
    assert dry.status_code == 200 and dry.json()["dry_run"] and not User.objects.filter(username="alice").exists()
    done = upload(api("ta"), "dl101", ROSTER)
    assert done.status_code == 200, done.json()
    body = done.json()
    assert body["created"] == ["alice", "bob", "tara"] and body["not_in_roster"] == ["other_student", "student", "ta"]
    assert body["links"][0]["link"].startswith("http://testserver/accounts/set-password/")
    bad = upload(api("ta"), "dl101", "username,email,first_name,last_name,student_id\nx,nope,a,b,c\n")
    assert bad.status_code == 400 and bad.json()["error"]["details"]["problems"][0]["line"] == 2
    missing = api("ta").post("/api/courses/dl101/roster/", {}, format="multipart")
    assert missing.status_code == 400 and "field named 'file'" in missing.json()["error"]["message"]
    assert api("ta").post("/api/courses/dl101/roster/", {}, format="json").status_code == 415  # a file, not JSON


# --- join codes --------------------------------------------------------------------------------

def join(client, code: str):
    return client.post("/api/courses/join/", {"code": code}, format="json")


# an exact match, then iexact: LIKE on SQLite (ASCII case folding), UPPER() = UPPER() on PostgreSQL
@pytest.mark.database_sensitive
def test_a_join_code_makes_you_a_student_once(api, course, people):
    assert join(api(None), course.join_code).status_code == 401
    first = join(api("outsider"), f"  {course.join_code.upper()} ")  # as people type it
    assert first.status_code == 200 and first.json() == {"course": "dl101", "title": "Deep Learning 101",
                                                         "role": "student", "joined": True}
    again = join(api("outsider"), course.join_code)
    assert again.status_code == 200 and again.json()["joined"] is False
    assert Membership.objects.filter(course=course, user=people["outsider"]).count() == 1


def test_a_ta_who_types_the_code_stays_a_ta(api, course):
    done = join(api("ta"), course.join_code)
    assert done.status_code == 200 and done.json()["role"] == "ta" and not done.json()["joined"]
    assert role(course, "ta") == "ta"


def test_unknown_codes_and_roster_only_courses_are_refused_clearly(api, course):
    unknown = join(api("outsider"), "not-a-code")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_join_code"
    assert "check it with your course staff" in unknown.json()["error"]["message"]
    code = course.join_code
    Course.objects.filter(pk=course.pk).update(join_code="")  # the TA turned joining off
    assert join(api("outsider"), code).status_code == 404
    empty = join(api("outsider"), "")
    assert empty.status_code == 400 and role(course, "outsider") is None


# --- pages -------------------------------------------------------------------------------------

# "Student" taken: the form's iexact lookup; look-alikes read through a server-side cursor on PostgreSQL
@pytest.mark.database_sensitive
def test_signing_up_with_a_join_code_creates_the_account_joins_and_logs_in(course):
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("signup") + f"?code={course.join_code}")
    assert page.status_code == 200 and f'value="{course.join_code}"'.encode() in page.content
    token = page.cookies["csrftoken"].value
    form = {"code": course.join_code, "username": "newbie", "email": "newbie@uni.example",
            "password1": "a-long-passphrase-9", "password2": "a-long-passphrase-9", "csrfmiddlewaretoken": token}
    assert client.post(reverse("signup"), {**form, "csrfmiddlewaretoken": ""}).status_code == 403  # CSRF on
    wrong = client.post(reverse("signup"), {**form, "code": "wrong-code"})
    assert wrong.status_code == 200 and b"No course has this join code" in wrong.content
    assert not User.objects.filter(username="newbie").exists()  # no account without its course
    no_email = client.post(reverse("signup"), {**form, "email": ""})
    assert no_email.status_code == 200 and not User.objects.filter(username="newbie").exists()
    taken = client.post(reverse("signup"), {**form, "username": "Student"})
    assert taken.status_code == 200 and b"already exists" in taken.content
    done = client.post(reverse("signup"), form, follow=True)
    assert done.redirect_chain[-1][0] == reverse("join") and b"You are a student of Deep Learning 101" in done.content
    assert role(course, "newbie") == "student" and done.context["user"].username == "newbie"
    assert User.objects.get(username="newbie").email == "newbie@uni.example"


def test_the_join_page_joins_and_lists_your_courses(course, people):
    anonymous = Client().get(reverse("join"))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login") + "?next=")
    client = Client()
    client.force_login(people["outsider"])
    unknown = client.post(reverse("join"), {"code": "nope"})
    assert unknown.status_code == 200 and b"No course has this join code" in unknown.content
    done = client.post(reverse("join"), {"code": course.join_code}, follow=True)
    assert b"You joined Deep Learning 101 as a student." in done.content and role(course, "outsider") == "student"
    ta = Client()
    ta.force_login(people["ta"])
    kept = ta.post(reverse("join"), {"code": course.join_code}, follow=True)
    assert b"already, as TA; nothing changed" in kept.content and role(course, "ta") == "ta"


def test_login_and_logout_pages(people):
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("login"))
    assert page.status_code == 200 and b"csrfmiddlewaretoken" in page.content and b"Sign up" in page.content
    token = page.cookies["csrftoken"].value
    wrong = client.post(reverse("login"), {"username": "student", "password": "nope", "csrfmiddlewaretoken": token})
    assert wrong.status_code == 200 and b"correct username and password" in wrong.content
    done = client.post(reverse("login"), {"username": "student", "password": "student-password-1",
                                          "csrfmiddlewaretoken": token})
    assert done.status_code == 302 and done["Location"] == "/"
    token = client.cookies["csrftoken"].value  # rotated at login
    confirm = client.get(reverse("logout"))
    assert confirm.status_code == 200 and b"logged in as <strong>student</strong>" in confirm.content
    out = client.post(reverse("logout"), {"csrfmiddlewaretoken": token})
    assert out.status_code == 302 and out["Location"] == "/"
    assert client.get(reverse("join")).status_code == 302  # logged out


def test_a_roster_never_rewrites_the_name_or_email_of_an_account_it_does_not_manage(course, people):
    other = Course.objects.get(slug="cv201")
    imported(course, ROSTER)
    Membership.objects.create(course=other, user=User.objects.get(username="bob"), role="student")
    people["student"].email = "own@uni.example"
    people["student"].save()
    summary = imported(course, ROSTER.replace("bob@uni.example", "bob@evil.example")
                       + "student;student@evil.example;Stu;Dent;s100;;\n"
                       + "alice2;alice2@uni.example;A;B;s9;;\n")
    assert User.objects.get(username="bob").email == "bob@uni.example"  # in another course too
    assert User.objects.get(username="student").email == "own@uni.example"  # has their own password
    # Not this roster's account, and evil.example is not its confirmed address: the line is left out.
    assert [c["line"] for c in summary.conflicts] == [5]
    assert Membership.objects.get(course=course, user__username="student").student_id == ""  # enrolled, unbound


def test_a_roster_cannot_take_over_an_account_it_did_not_make(course, people):
    """A staff account with no password and no course, listed by a TA: its email is not rewritten
    and no set-password link is issued for it, on import or relink."""
    ops = User.objects.create(username="opsbot", email="ops@uni.example", is_staff=True)
    ops.set_unusable_password()
    ops.save()
    text = "username,email,first_name,last_name,student_id\nopsbot,ta-controlled@evil.example,O,B,s1\n"
    first = imported(course, text)
    again = imported(course, text, relink=True)
    assert User.objects.get(username="opsbot").email == "ops@uni.example"
    assert [link.username for link in first.links + again.links] == []


def test_a_self_registered_account_is_adopted_only_by_an_address_it_confirmed(course, people):
    squatter = User.objects.create_user(username="carol", email="squatter@uni.example", password="pw-123456-x")
    other = imported(course, "username,email,first_name,last_name,student_id\ncarol,carol@uni.example,Carol,C,s042\n")
    assert [(c["line"], c["column"]) for c in other.conflicts] == [(2, "username")]
    assert "with another e-mail address" in other.conflicts[0]["message"]
    same = imported(course, "username,email,first_name,last_name,student_id\ncarol,Squatter@uni.example,C,C,s9\n")
    assert "has not confirmed Squatter@uni.example" in same.conflicts[0]["message"]
    assert (other.updated, same.updated) == ([], []) and not Membership.objects.filter(user=squatter).exists()
    confirm(squatter, "squatter@uni.example")
    summary = imported(course, "username,email,first_name,last_name,student_id\ncarol,Squatter@uni.example,C,C,s9\n")
    assert summary.updated == ["carol"] and summary.conflicts == []  # the same person (confirmed): enrolled


# one_pseudonym_per_course is a partial unique index, checked by the admin form's query too
@pytest.mark.database_sensitive
def test_every_way_into_a_course_draws_a_pseudonym_of_its_own(course, people):
    """Enrolment, joining by code, the roster and the admin all draw pseudonyms one way
    (services.draw_pseudonym): never empty, never two alike in a course."""
    from basin.courses.admin import MembershipForm
    from basin.courses.services import enroll, join_with_code

    course.join_code = "k7pq2xmd9a"
    course.save()
    enroll(course=course, user=people["outsider"], role="student")
    User = get_user_model()
    join_with_code(user=User.objects.create_user("joiner", password="joiner-password-1"), code="k7pq2xmd9a")
    imported(course, "username,email,first_name,last_name,student_id\nrostered,r@uni.example,R,S,1\n")
    form = MembershipForm(data={"course": course.pk, "user": User.objects.create_user("added").username,
                                "role": "student", "student_id": "", "pseudonym": ""})
    assert form.is_valid(), form.errors
    form.save()
    pseudonyms = list(Membership.objects.filter(course=course).values_list("pseudonym", flat=True))
    assert all(pseudonyms) and len(set(pseudonyms)) == len(pseudonyms) == 7, pseudonyms
