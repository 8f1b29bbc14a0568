"""The admin, per course: a superuser sees everything, a TA their courses only (with no model
permission granted), a student nothing. Grading results are read-only; state changes only
through the actions, each saying what it did and what it skipped. No private score shows before
the reveal, for anyone."""
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from basin.courses.models import Course, DatasetVersion, Homework, Membership
from basin.submissions.models import Submission

pytestmark = pytest.mark.django_db

PRIVATE, PRIVATE_ALL, PRIVATE_ECE = 0.4375, 0.6251, 0.0917  # numbers that appear nowhere else on the pages


@pytest.fixture
def staff(people, course):
    """TAs and, to prove the flag alone opens nothing, a student are staff; root is a superuser."""
    for name in ("ta", "other_ta", "student"):
        people[name].is_staff = True
        people[name].save()
    people["root"] = get_user_model().objects.create_superuser("root", "root@example.org", "root-password-1")
    return people


@pytest.fixture
def homeworks(course):
    """hw1 in the TA's course dl101 (open for a week), cv1 in cv201 (other_ta's)."""
    now = timezone.now()
    dataset = DatasetVersion.objects.create(slug="stub", directory="stub", seed=0, manifest={})

    def make(course, slug):
        return Homework.objects.create(course=course, slug=slug, title=slug.upper(), dataset=dataset,
                                       opens_at=now - timedelta(days=1), deadline=now + timedelta(days=7))
    return {"hw1": make(course, "hw1"), "cv1": make(Course.objects.get(slug="cv201"), "cv1")}


@pytest.fixture
def make(homeworks):
    def submission(user, hw="hw1", status="scored", **fields):
        values = {"public_score": 0.8125, "private_score": PRIVATE} if status == "scored" else {}
        values |= {"scores": {"public": {"accuracy": 0.8125}, "private": {"accuracy": PRIVATE},
                              "all": {"accuracy": PRIVATE_ALL}},
                   "trusted_diagnostics": {"public": {"ece": 0.05}, "private": {"ece": PRIVATE_ECE}}
                   } if status == "scored" else {}
        return Submission.objects.create(homework=homeworks[hw], user=user, file=ContentFile(b"x", name="s.zip"),
                                         original_name="s.zip", kind="bundle", size=1, sha256="0" * 64,
                                         status=status, **(values | fields))
    return submission


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def listed(client, model: str) -> set[str]:
    response = client.get(f"/admin/{model}/")
    assert response.status_code == 200, response.status_code
    return {str(obj) for obj in response.context["cl"].result_list}


def act(client, action: str, submissions, **extra):
    response = client.post("/admin/submissions/submission/", {
        "action": action, "index": 0, "_selected_action": [s.pk for s in submissions], **extra}, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def world(staff, homeworks, make):
    return {"mine": make(staff["student"]), "theirs": make(staff["other_ta"], hw="cv1")}


# --- who sees what -------------------------------------------------------------------------------

def test_a_superuser_sees_every_course_and_its_rows(staff, world):
    root = login(staff["root"])
    assert listed(root, "courses/course") == {"Deep Learning 101", "Computer Vision 201"}
    assert listed(root, "courses/homework") == {"HW1", "CV1"}
    assert len(listed(root, "courses/membership")) == 4
    assert {s.pk for s in root.get("/admin/submissions/submission/").context["cl"].result_list} == {
        world["mine"].pk, world["theirs"].pk}


def test_a_ta_with_no_model_permission_sees_only_the_courses_they_ta(staff, world):
    assert not staff["ta"].user_permissions.exists() and not Permission.objects.filter(group__user=staff["ta"]).exists()
    ta = login(staff["ta"])
    index = ta.get("/admin/").content.decode()
    for model in ("Courses", "Homeworks", "Memberships", "Submissions", "Dataset versions"):
        assert model in index
    assert listed(ta, "courses/course") == {"Deep Learning 101"}
    assert listed(ta, "courses/homework") == {"HW1"}
    assert {m.split(" (")[0] for m in listed(ta, "courses/membership")} == {"ta", "student", "other_student"}
    assert {s.pk for s in ta.get("/admin/submissions/submission/").context["cl"].result_list} == {world["mine"].pk}
    assert ta.get(f"/admin/submissions/submission/{world['mine'].pk}/change/").status_code == 200
    # Another course's rows do not exist for them: the admin sends them back to its index.
    other = Course.objects.get(slug="cv201")
    for url in (f"/admin/submissions/submission/{world['theirs'].pk}/change/",
                f"/admin/courses/course/{other.pk}/change/",
                f"/admin/courses/homework/{world['theirs'].homework_id}/change/"):
        assert ta.get(url).status_code == 302, url


def test_a_ta_of_another_course_sees_that_course_only(staff, world):
    other_ta = login(staff["other_ta"])
    assert listed(other_ta, "courses/course") == {"Computer Vision 201"}
    assert listed(other_ta, "courses/homework") == {"CV1"}
    assert {s.pk for s in other_ta.get("/admin/submissions/submission/").context["cl"].result_list} == {
        world["theirs"].pk}
    assert other_ta.get(f"/admin/submissions/submission/{world['mine'].pk}/change/").status_code == 302


def test_a_student_gets_nothing_even_with_the_staff_flag(staff, world):
    student = login(staff["student"])
    assert "Submissions" not in student.get("/admin/").content.decode()
    for model in ("courses/course", "courses/homework", "courses/membership", "courses/datasetversion",
                  "submissions/submission"):
        assert student.get(f"/admin/{model}/").status_code == 403, model
    assert student.get(f"/admin/submissions/submission/{world['mine'].pk}/change/").status_code == 403
    outsider = login(staff["outsider"])  # not staff at all: the admin's login page
    assert outsider.get("/admin/submissions/submission/").status_code == 302


def test_a_ta_files_homeworks_and_memberships_only_under_their_courses(staff, homeworks):
    ta = login(staff["ta"])
    assert ta.get("/admin/courses/course/add/").status_code == 403
    choices = ta.get("/admin/courses/homework/add/").context["adminform"].form.fields["course"].queryset
    assert [c.slug for c in choices] == ["dl101"]
    dl101, cv201 = Course.objects.get(slug="dl101"), Course.objects.get(slug="cv201")
    added = ta.post("/admin/courses/membership/add/", {"course": dl101.pk, "user": "outsider", "role": "student",
                                                       "student_id": "s-9", "pseudonym": ""})
    assert added.status_code == 302
    assert Membership.objects.get(course=dl101, user=staff["outsider"]).student_id == "s-9"
    refused = ta.post("/admin/courses/membership/add/", {"course": cv201.pk, "user": "outsider", "role": "ta",
                                                         "student_id": "", "pseudonym": ""})
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert not Membership.objects.filter(course=cv201, user=staff["outsider"]).exists()
    # The course's page lists its members by username, editable in place.
    page = ta.get(f"/admin/courses/course/{dl101.pk}/change/")
    assert page.status_code == 200
    assert {f.instance.user.username for f in page.context["inline_admin_formsets"][0].formset.forms} == {
        "ta", "student", "other_student", "outsider"}
    assert 'value="other_student"' in page.content.decode()


# --- grading results are read-only -------------------------------------------------------------

def test_a_ta_cannot_edit_scores_verdict_or_status(staff, world):
    submission = world["mine"]
    ta = login(staff["ta"])
    url = f"/admin/submissions/submission/{submission.pk}/change/"
    assert set(ta.get(url).context["adminform"].form.fields) == {"note"}
    response = ta.post(url, {"note": "my CNN", "public_score": "1.0", "private_score": "1.0", "status": "failed",
                             "verdict": "runtime_error", "scores": "{}", "disqualified": "on"})
    assert response.status_code == 302
    submission.refresh_from_db()
    assert (submission.note, submission.public_score, submission.private_score, submission.status,
            submission.verdict, submission.disqualified) == ("my CNN", 0.8125, PRIVATE, "scored", "", False)
    assert ta.post("/admin/submissions/submission/add/", {}).status_code == 403
    assert ta.post(f"/admin/submissions/submission/{submission.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Submission.objects.filter(pk=submission.pk).exists()


def test_the_reveal_date_is_not_a_field_anyone_types(staff, homeworks):
    for user in ("ta", "root"):
        page = login(staff[user]).get(f"/admin/courses/homework/{homeworks['hw1'].pk}/change/")
        form = page.context["adminform"].form
        assert "private_revealed_at" not in form.fields


# --- private scores before and after the reveal -------------------------------------------------

@pytest.mark.parametrize("user", ["root", "ta"])
def test_no_private_score_shows_before_the_reveal_and_all_show_after(staff, world, homeworks, user):
    client = login(staff[user])
    pages = ["/admin/submissions/submission/", f"/admin/submissions/submission/{world['mine'].pk}/change/"]
    for url in pages:
        page = client.get(url).content.decode()
        assert "hidden until the reveal" in page and "0.8125" in page, url
        for secret in (PRIVATE, PRIVATE_ALL, PRIVATE_ECE):
            assert str(secret) not in page, (url, secret)
    Homework.objects.filter(pk=homeworks["hw1"].pk).update(opens_at=timezone.now() - timedelta(days=9),
                                                           deadline=timezone.now() - timedelta(days=1),
                                                           private_revealed_at=timezone.now() - timedelta(minutes=1))
    listing, detail = (client.get(url).content.decode() for url in pages)
    # Per homework: cv1 (root sees it) is still hidden.
    assert str(PRIVATE) in listing and listing.count("hidden until the reveal") == (1 if user == "root" else 0)
    for secret in (PRIVATE, PRIVATE_ALL, PRIVATE_ECE):
        assert str(secret) in detail, secret


def test_the_private_score_cannot_be_guessed_through_changelist_filters(staff, world):
    root = login(staff["root"])
    for lookup in ("private_score__gt=0.4", "scores__private__accuracy__gt=0.4",
                   "trusted_diagnostics__private__isnull=False",
                   "hidden_log__contains=a", "hidden_log__startswith=x"):  # a course may hide it from its TAs
        assert root.get(f"/admin/submissions/submission/?{lookup}").status_code == 400, lookup
    assert root.get("/admin/submissions/submission/?public_score__gt=0.4").status_code == 200


# --- actions ------------------------------------------------------------------------------------

def test_rescore_queues_finished_submissions_again_and_skips_running_ones(staff, make):
    scored, failed = make(staff["student"]), make(staff["student"], status="failed", verdict="runtime_error")
    running = make(staff["other_student"], status="running")
    messages = act(login(staff["ta"]), "rescore", [scored, failed, running])
    assert messages == [f"Queued again 2 submissions: #{scored.pk}, #{failed.pk}.",
                        f"Skipped 1 submission (#{running.pk}): still waiting or running; it will be scored anyway."]
    for s in (scored, failed, running):
        s.refresh_from_db()
    assert (scored.status, scored.public_score, scored.private_score, scored.scores) == ("queued", None, None, {})
    assert (failed.status, failed.verdict) == ("queued", "")
    assert running.status == "running"


def test_cancel_stops_waiting_and_running_submissions_and_says_why_it_skips_finished_ones(staff, make):
    queued, running, scored = (make(staff["student"], status="queued"), make(staff["student"], status="running"),
                               make(staff["other_student"]))
    messages = act(login(staff["ta"]), "cancel", [queued, running, scored])
    assert messages == [f"Cancelled 2 submissions: #{queued.pk}, #{running.pk}.",
                        f"Skipped 1 submission (#{scored.pk}): scored; only a submission that is waiting or running "
                        "can be cancelled."]
    assert [Submission.objects.get(pk=s.pk).status for s in (queued, running, scored)] == [
        "cancelled", "cancelled", "scored"]


def test_disqualify_asks_for_a_reason_on_a_confirmation_page_first(staff, make):
    cheat, already = make(staff["student"]), make(staff["other_student"], disqualified=True,
                                                  disqualified_reason="copied")
    ta = login(staff["ta"])
    page = ta.post("/admin/submissions/submission/", {"action": "disqualify", "index": 0,
                                                       "_selected_action": [cheat.pk, already.pk]})
    assert page.status_code == 200 and "submissions/admin_disqualify.html" in [t.name for t in page.templates]
    assert 'name="reason"' in page.content.decode() and not Submission.objects.get(pk=cheat.pk).disqualified
    # The confirmation page posts without "index"; an empty reason brings it back with the error.
    confirm = {"action": "disqualify", "apply": "yes", "_selected_action": [cheat.pk, already.pk]}
    again = ta.post("/admin/submissions/submission/", {**confirm, "reason": ""})
    assert again.status_code == 200 and "This field is required" in again.content.decode()
    done = ta.post("/admin/submissions/submission/", {**confirm, "reason": "trained on the test images"}, follow=True)
    assert [str(m) for m in done.context["messages"]] == [
        f"Disqualified 1 submission: #{cheat.pk}.", f"Skipped 1 submission (#{already.pk}): already disqualified."]
    cheat.refresh_from_db(), already.refresh_from_db()
    assert (cheat.disqualified, cheat.disqualified_reason) == (True, "trained on the test images")
    assert already.disqualified_reason == "copied"


def test_mark_as_baseline_takes_a_tas_own_submission_and_refuses_a_students(staff, make):
    own, student, already = make(staff["ta"]), make(staff["student"], selected=True), make(staff["ta"],
                                                                                           is_baseline=True)
    messages = act(login(staff["ta"]), "mark_baseline", [own, student, already])
    assert messages[0] == f"Marked as baseline 1 submission: #{own.pk}."
    assert f"(#{student.pk}): a baseline is a TA's own submission" in messages[1]
    assert messages[2] == f"Skipped 1 submission (#{already.pk}): already a baseline."
    assert [Submission.objects.get(pk=s.pk).is_baseline for s in (own, student, already)] == [True, False, True]


def test_a_ta_cannot_act_on_another_courses_submissions_by_posting_their_ids(staff, world):
    theirs = world["theirs"]
    messages = act(login(staff["ta"]), "cancel", [theirs])
    assert messages == ["None of the selected submissions is one you can act on."]
    act(login(staff["ta"]), "rescore", [theirs])
    theirs.refresh_from_db()
    assert theirs.status == "scored" and theirs.public_score == 0.8125


def test_reveal_is_refused_while_submissions_are_open_then_done_then_skipped(staff, homeworks):
    ta = login(staff["ta"])
    hw1 = homeworks["hw1"]

    def reveal():
        response = ta.post("/admin/courses/homework/", {"action": "reveal_private_leaderboard", "index": 0,
                                                         "_selected_action": [hw1.pk]}, follow=True)
        assert response.status_code == 200
        return [str(m) for m in response.context["messages"]]

    still_open = reveal()
    assert len(still_open) == 1 and still_open[0].startswith("Skipped 1 homework: hw1: Submissions close at")
    assert Homework.objects.get(pk=hw1.pk).private_revealed_at is None
    Homework.objects.filter(pk=hw1.pk).update(opens_at=timezone.now() - timedelta(days=9),
                                              deadline=timezone.now() - timedelta(days=1))
    assert reveal() == ["Revealed the private leaderboard of hw1; grades can be exported now."]
    assert Homework.objects.get(pk=hw1.pk).private_is_revealed
    again = reveal()
    assert len(again) == 1 and "hw1: already revealed at" in again[0]
    # other_ta sees no hw1 to reveal; the admin's list only offers their own homeworks.
    assert listed(login(staff["other_ta"]), "courses/homework") == {"CV1"}


def test_a_ta_gives_their_course_a_new_join_code_or_closes_joining(people, course):
    from django.test import Client

    from basin.courses.models import Course

    people["ta"].is_staff = True
    people["ta"].save()
    client = Client()
    client.force_login(people["ta"])
    old = course.join_code
    client.post("/admin/courses/course/", {"action": "new_join_code", "_selected_action": [course.pk]})
    course.refresh_from_db()
    assert course.join_code and course.join_code != old
    other = Course.objects.get(slug="cv201")
    before = other.join_code
    client.post("/admin/courses/course/", {"action": "close_joining", "_selected_action": [course.pk, other.pk]})
    course.refresh_from_db()
    other.refresh_from_db()
    assert course.join_code == "" and other.join_code == before  # another course's is not theirs to close
