"""A semester's rules: total quota, late policy, pseudonyms, disqualification, cancellation, and
the private leaderboard (final selections, or the best public submission; the shake-up; the reveal)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from basin.courses import access
from basin.courses.models import Course, Homework, Membership
from basin.courses.services import enroll, reveal_private
from basin.errors import ApplicationError
from basin.leaderboard.selectors import private_leaderboard, public_leaderboard
from basin.submissions import services
from basin.submissions.models import Submission
from tests.platform.test_submissions_api import upload

# The tests marked database_sensitive are re-run on PostgreSQL (tests/platform/test_on_postgres.py).
pytestmark = pytest.mark.django_db


def close(homework, hours_ago=1):
    """Move the homework's deadline (and late period) into the past."""
    now = timezone.now()
    Homework.objects.filter(pk=homework.pk).update(opens_at=now - timedelta(days=10),
                                                   deadline=now - timedelta(hours=hours_ago))
    homework.refresh_from_db()


# quotas counted under the membership's row lock (select_for_update); cancel locks the live runs
@pytest.mark.database_sensitive
def test_the_total_quota_holds_and_cancelled_or_grader_failed_submissions_do_not_count(api, homework):
    Homework.objects.filter(pk=homework.pk).update(total_quota=2, daily_quota=10)
    client = api("student")
    first = upload(client).json()["id"]
    assert client.post(f"/api/submissions/{first}/cancel/").json()["status"] == "cancelled"
    second = upload(client).json()["id"]
    Submission.objects.filter(pk=second).update(status="failed", verdict="infrastructure_error")
    assert upload(client).status_code == 201
    assert upload(client).status_code == 201
    refused = upload(client)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "total_quota_exceeded"
    quota = client.get("/api/homeworks/hw1/").json()["quota"]
    assert (quota["total_used"], quota["total_left"], quota["left"]) == (2, 0, 0)


# quotas counted under the membership's row lock; resets_at from created_at as the database returns it
@pytest.mark.database_sensitive
def test_the_daily_quota_says_when_the_next_submission_frees_up(api, homework):
    client = api("student")
    ids = [upload(client).json()["id"] for _ in range(3)]
    refused = upload(client).json()["error"]
    first = Submission.objects.get(pk=ids[0]).created_at
    assert refused["details"]["resets_at"] == (first + timedelta(days=1)).isoformat()
    assert "frees up at" in refused["message"]
    quota = client.get("/api/homeworks/hw1/").json()["quota"]
    assert (quota["daily_used"], quota["daily_left"], quota["total_quota"]) == (3, 0, None)


# cancel: the live runs locked (select_for_update), then a conditional UPDATE on the status
@pytest.mark.database_sensitive
def test_only_a_waiting_submission_can_be_cancelled_and_only_by_its_owner_or_a_ta(api, homework):
    mine = upload(api("student")).json()["id"]
    assert api("other_student").post(f"/api/submissions/{mine}/cancel/").status_code == 404
    Submission.objects.filter(pk=mine).update(status="running")
    refused = api("student").post(f"/api/submissions/{mine}/cancel/")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_cancellable"
    assert api("ta").post(f"/api/submissions/{mine}/cancel/").json()["status"] == "cancelled"


def test_late_submissions_are_refused_by_default(api, homework):
    close(homework)
    response = upload(api("student"))
    assert response.status_code == 403 and response.json()["error"]["code"] == "deadline_passed"


# the penalised score is computed and ranked in the database (window functions)
@pytest.mark.database_sensitive
def test_the_penalty_policy_takes_a_share_per_started_day_until_the_late_period_ends(api, homework, scored, people):
    close(homework, hours_ago=25)  # 25 h late: two started days
    Homework.objects.filter(pk=homework.pk).update(late_policy="penalty", late_penalty_percent=15,
                                                   late_until=timezone.now() + timedelta(days=1))
    body = upload(api("student")).json()
    assert body["late_penalty"] == pytest.approx(0.30)
    homework.refresh_from_db()
    assert homework.late_penalty_at(homework.deadline) == 0
    assert homework.late_penalty_at(homework.deadline + timedelta(days=30)) == 1.0  # never below zero
    # The leaderboard ranks the score after the penalty.
    scored(people["student"], 0.95, late_penalty=0.30)
    scored(people["other_student"], 0.80)
    rows = public_leaderboard(homework)
    assert [(r.name, round(r.effective_public_score, 3)) for r in rows] == [("other_student", 0.8), ("student", 0.665)]
    Homework.objects.filter(pk=homework.pk).update(late_until=timezone.now() - timedelta(minutes=1))
    refused = upload(api("student")).json()["error"]
    assert refused["code"] == "deadline_passed" and "late submissions were taken until" in refused["message"]


def test_a_penalty_policy_needs_a_late_period_after_the_deadline(api, homework):
    now = timezone.now()
    body = {"slug": "hw2", "title": "HW2", "dataset": homework.dataset.slug, "opens_at": now.isoformat(),
            "deadline": (now + timedelta(days=1)).isoformat(), "late_policy": "penalty"}
    refused = api("ta").post("/api/courses/dl101/homeworks/", body, format="json").json()["error"]
    assert refused["code"] == "invalid_late_until"
    body["late_until"] = (now + timedelta(days=3)).isoformat()
    created = api("ta").post("/api/courses/dl101/homeworks/", body, format="json").json()
    assert created["late_policy"] == "penalty" and created["closes_at"] == created["late_until"]


# a window-function query with a correlated subquery for the pseudonym
@pytest.mark.database_sensitive
def test_pseudonyms_hide_names_from_everyone_but_the_tas(client, api, homework, people, scored):
    scored(people["student"], 0.9)
    Homework.objects.filter(pk=homework.pk).update(pseudonymous_leaderboard=True)
    pseudonym = Membership.objects.get(user=people["student"], course=homework.course).pseudonym
    assert pseudonym and pseudonym != "student"
    for persona in (None, "other_student", "other_ta"):
        rows = api(persona).get("/api/homeworks/hw1/leaderboard/").json()["rows"]
        assert [r["name"] for r in rows] == [pseudonym]
    assert [r["name"] for r in api("ta").get("/api/homeworks/hw1/leaderboard/").json()["rows"]] == ["student"]
    page = client.get("/homeworks/hw1/leaderboard/").content.decode()
    assert pseudonym in page and ">student<" not in page


# bulk_create returning ids, enroll's update_or_create (select_for_update), a partial unique index
@pytest.mark.database_sensitive
def test_pseudonyms_are_unique_in_a_course(people):
    course = Course.objects.create(slug="big", title="Big")
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.bulk_create(get_user_model()(username=f"u{i}") for i in range(60))
    for user in users:
        enroll(course=course, user=user, role="student")
    names = list(Membership.objects.filter(course=course).values_list("pseudonym", flat=True))
    assert len(set(names)) == 60 and all(names)
    assert course.join_code and len(course.join_code) == 10


def test_disqualified_submissions_are_never_ranked_nor_chosen(api, homework, people, scored):
    cheat = scored(people["student"], 0.99)
    honest = scored(people["student"], 0.70, minutes=1)
    services.disqualify(cheat, "copied another student's weights")
    assert [r.submission_id for r in public_leaderboard(homework)] == [honest.pk]
    refused = api("student").post("/api/homeworks/hw1/selection/", {"ids": [cheat.pk]}, format="json")
    assert refused.json()["error"]["code"] == "not_scored"
    detail = api("student").get(f"/api/submissions/{cheat.pk}/").json()
    assert detail["disqualified"] is True and "copied" in detail["disqualified_reason"]


def reveal(homework) -> None:
    homework.private_revealed_at = timezone.now() - timedelta(seconds=1)
    homework.save()


def test_the_private_leaderboard_refuses_to_rank_before_the_reveal(homework):
    with pytest.raises(ApplicationError) as refused:
        private_leaderboard(homework, access.STAFF)
    assert refused.value.code == "not_revealed" and refused.value.status_code == 403


def test_the_private_leaderboard_counts_final_selections_or_else_the_best_public(homework, people, scored):
    # student: best public 0.9 (private 0.6), but selected the 0.8 one (private 0.85).
    scored(people["student"], 0.90, private=0.60, minutes=1)
    scored(people["student"], 0.80, private=0.85, minutes=2, selected=True)
    # other_student: chose nothing: the best public (0.88 → private 0.70) counts, not the 0.5 one's 0.95.
    scored(people["other_student"], 0.88, private=0.70, minutes=3)
    scored(people["other_student"], 0.50, private=0.95, minutes=4)
    scored(people["ta"], 0.75, private=0.72, baseline=True)
    reveal(homework)
    rows = private_leaderboard(homework)
    assert [(r.rank, r.name, r.effective_private_score, r.public_rank, r.shake_up) for r in rows] == [
        (1, "student", 0.85, 1, 0), (None, "baseline: baseline CNN", 0.72, None, None),
        (2, "other_student", 0.70, 2, 0)]
    # Ties on the private score go to the earlier submission, and the shake-up shows it.
    enroll(course=homework.course, user=people["outsider"], role="student")
    scored(people["outsider"], 0.95, private=0.85, minutes=0)
    rows = [r for r in private_leaderboard(homework) if not r.is_baseline]
    assert [(r.name, r.public_rank, r.rank) for r in rows] == [("outsider", 1, 1), ("student", 2, 2),
                                                                ("other_student", 3, 3)]


def test_the_shake_up_is_public_rank_minus_private_rank(homework, people, scored):
    scored(people["student"], 0.90, private=0.60)
    scored(people["other_student"], 0.80, private=0.85)
    reveal(homework)
    rows = private_leaderboard(homework)
    assert [(r.name, r.public_rank, r.rank, r.shake_up) for r in rows] == [
        ("other_student", 2, 1, 1), ("student", 1, 2, -1)]


def test_the_private_leaderboard_waits_for_the_reveal_and_the_reveal_for_the_close(client, api, homework,
                                                                                   people, scored):
    scored(people["student"], 0.8125, private=0.4375)
    refused = api(None).get("/api/homeworks/hw1/leaderboard/?part=private")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_revealed"
    with pytest.raises(ApplicationError, match="can be revealed after"):
        reveal_private(homework=homework)
    close(homework)
    assert "0.4375" not in client.get("/homeworks/hw1/leaderboard/").content.decode()
    reveal_private(homework=homework)
    board = api(None).get("/api/homeworks/hw1/leaderboard/").json()
    assert board["part"] == "private" and board["rows"][0]["private_score"] == 0.4375
    page = client.get("/homeworks/hw1/leaderboard/").content.decode()
    assert "0.4375" in page and "Private accuracy" in page
    assert "0.4375" not in client.get("/homeworks/hw1/leaderboard/?part=public").content.decode()


# select_final takes the membership's row lock (select_for_update)
@pytest.mark.database_sensitive
def test_the_final_selection_stays_open_through_the_late_period(api, homework, people, scored):
    chosen = scored(people["student"], 0.7)
    close(homework)
    assert api("student").post("/api/homeworks/hw1/selection/", {"ids": [chosen.pk]},
                               format="json").status_code == 403
    Homework.objects.filter(pk=homework.pk).update(late_policy="penalty",
                                                   late_until=timezone.now() + timedelta(hours=1))
    assert api("student").post("/api/homeworks/hw1/selection/", {"ids": [chosen.pk]},
                               format="json").status_code == 200


# rescore locks the live runs (select_for_update); a conditional UPDATE on the status
@pytest.mark.database_sensitive
def test_a_rescore_puts_a_finished_submission_back_in_the_queue(homework, people, scored,
                                                                django_capture_on_commit_callbacks):
    done = scored(people["student"], 0.7, private=0.6)
    with django_capture_on_commit_callbacks() as sent:
        assert services.rescore(done) is True
    done.refresh_from_db()
    assert (done.status, done.public_score, len(sent)) == ("queued", None, 1)
    run = done.runs.get()  # a new scoring run, with tries of its own
    assert (run.kind, run.state, run.attempt) == ("score", "queued", 0)
    assert services.rescore(done) is False  # already waiting


def test_the_private_leaderboard_page_takes_the_same_number_of_queries_for_many_submissions(client, homework,
                                                                                          people, scored):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    scored(people["student"], 0.5, private=0.5)
    close(homework)
    reveal_private(homework=homework)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/homeworks/hw1/leaderboard/").status_code == 200
    for i in range(30):
        scored(people["student" if i % 2 else "other_student"], i / 100, private=1 - i / 100, minutes=i,
               selected=i % 5 == 0)
        scored(people["ta"], 0.3, private=0.3, baseline=True)
    with CaptureQueriesContext(connection) as many:
        page = client.get("/homeworks/hw1/leaderboard/")
    assert page.status_code == 200 and "Private accuracy" in page.content.decode()
    assert len(many) == len(few)


def test_a_revealed_homework_takes_no_more_submissions_or_selections_even_if_reopened(api, homework, people,
                                                                                      scored):
    from django.test import Client

    chosen = scored(people["student"], 0.7)
    close(homework)
    reveal_private(homework=homework)
    # A TA "extends the deadline" with a plain update (the admin refuses it: see below).
    Homework.objects.filter(pk=homework.pk).update(deadline=timezone.now() + timedelta(days=1))
    refused = upload(api("student"))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "revealed"
    assert api("student").post("/api/homeworks/hw1/selection/", {"ids": [chosen.pk]},
                               format="json").status_code == 403
    people["ta"].is_staff = True
    people["ta"].save()
    admin = Client()
    admin.force_login(people["ta"])
    form = admin.get(f"/admin/courses/homework/{homework.pk}/change/").content.decode()
    assert 'name="deadline_0"' not in form and 'name="title"' in form


# quotas: the window of 24 hours counted on created_at as the database returns it
@pytest.mark.database_sensitive
def test_the_quota_says_when_one_frees_up_after_a_ta_lowers_it(api, homework, people, scored):
    for minutes in (0, 10, 20):
        scored(people["student"], 0.5, minutes=minutes)
    Homework.objects.filter(pk=homework.pk).update(daily_quota=1)
    times = sorted(Submission.objects.filter(user=people["student"]).values_list("created_at", flat=True))
    quota = api("student").get("/api/homeworks/hw1/").json()["quota"]
    assert quota["daily_left"] == 0
    assert quota["resets_at"].replace("Z", "+00:00") == (times[2] + timedelta(days=1)).isoformat()


# a CHECK constraint's IntegrityError inside a savepoint
@pytest.mark.database_sensitive
def test_a_daily_quota_below_one_is_refused_by_the_form_and_the_database(homework):
    """A quota of 0 once made every upload a server error: the admin's form refuses it, and so does
    the database for any other path."""
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError, transaction

    homework.daily_quota = 0
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        homework.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        Homework.objects.filter(pk=homework.pk).update(daily_quota=0)
