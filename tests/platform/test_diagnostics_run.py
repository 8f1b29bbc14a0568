"""The diagnostics run of a scored submission: queued with the score, run in the sandbox on its
own queue, stored beside the score without ever touching it, retried when the grader fails."""
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from basin.dispatch import DIAGNOSE
from basin.grading import watchdog
from basin.submissions import runs
from basin.submissions.models import Run, Submission
from tests import factories
from tests.runs import diagnose, grade, latest, live

# The tests marked database_sensitive are re-run on PostgreSQL (tests/platform/test_on_postgres.py).
pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(dispatched):
    """sent(): the diagnostics messages sent, as (run id, countdown) (tests/conftest.py's dispatched)."""
    return lambda: [(pk, countdown) for task, pk, countdown in dispatched if task == DIAGNOSE]


@pytest.fixture
def scored(scored_submission, sent):
    return scored_submission


# The canned process sandbox (tests/platform/conftest.py): the same run through Docker and a real
# worker is tests/e2e/test_submission_flow.py's.
# the claim (a conditional UPDATE) taken once, a duplicate message claims nothing; the report stored in jsonb
@pytest.mark.database_sensitive
def test_scoring_queues_diagnostics_and_their_run_fills_them_in_without_touching_the_score(scored, sent):
    submission = scored()
    run = live(submission, runs.DIAGNOSE)
    assert submission.diagnostics_status == "queued" and sent() == [(run.pk, 0)]
    scored_fields = ("public_score", "private_score", "scores", "trusted_diagnostics")
    before = [getattr(submission, name) for name in scored_fields]
    diagnose(submission)
    submission.refresh_from_db()
    assert submission.diagnostics_status == "complete", submission.sandbox_diagnostics
    report = submission.sandbox_diagnostics
    assert report["profile"] == "cpu" and report["budget"]["grid"] == factories.SMALL_BUDGET["grid"]
    assert {"generalization", "features", "landscape", "sharpness"} <= set(report)
    gap = report["generalization"]["val_minus_public_test"]["accuracy"]
    assert gap == pytest.approx(report["generalization"]["val"]["accuracy"] - submission.public_score)
    assert [getattr(submission, name) for name in scored_fields] == before
    from basin.grading import diagnostics

    diagnostics.diagnose(run.pk)  # a duplicate message: nothing to claim
    run.refresh_from_db()
    assert (run.state, run.outcome, run.attempt) == ("finished", "complete", 1) and run.timings["sandbox_s"] > 0


def test_the_api_shows_the_sandbox_diagnostics_before_the_reveal_and_never_the_private_part(api, homework, people):
    submission = Submission.objects.create(
        homework=homework, user=people["student"], file=ContentFile(b"x", name="s.zip"), original_name="s.zip",
        kind="bundle", size=1, sha256="0" * 64, status="scored", public_score=0.5, private_score=0.6,
        trusted_diagnostics={"profile": "cpu", "public": {"n": 1}, "private": {"n": 2}},
        diagnostics_status="complete",
        sandbox_diagnostics={"status": "complete", "landscape": {"grid": {"alphas": [-1.0]}}})
    body = api("student").get(f"/api/submissions/{submission.pk}/").json()
    assert body["diagnostics_status"] == "complete"
    assert body["diagnostics"]["model"]["landscape"]["grid"]["alphas"] == [-1.0]
    assert "private" not in body["diagnostics"] and body["private_score"] is None


def test_no_diagnostics_where_the_homework_or_the_worker_turns_them_off(scored, homework, settings, sent):
    homework.diagnostics_enabled = False
    homework.save()
    assert scored().diagnostics_status == ""
    homework.diagnostics_enabled = True
    homework.save()
    settings.BASIN_DIAGNOSTICS = "off"
    assert scored().diagnostics_status == "" and sent() == []


def test_a_failed_submission_gets_no_diagnostics(homework, people, sent):
    submission = Submission.objects.create(
        homework=homework, user=people["student"], original_name="s.zip", kind="bundle", size=1, sha256="0" * 64,
        file=ContentFile(factories.bundle(model_source=factories.RAISES_IN_BUILD), name="s.zip"))
    runs.open_run(submission.pk, runs.SCORE)
    grade(submission)
    submission.refresh_from_db()
    assert submission.status == "failed" and submission.diagnostics_status == "" and sent() == []


def test_diagnostics_out_of_time_are_stored_as_partial(scored, homework):
    submission = scored()
    # Long enough for the cheap parts on a loaded machine, never for a 101-point grid: they are kept.
    homework.diagnostics_budget = {**factories.SMALL_BUDGET, "grid": 101, "time_limit_s": 30}
    homework.save()
    diagnose(submission)
    submission.refresh_from_db()
    assert submission.diagnostics_status == "partial" and "grid" in submission.sandbox_diagnostics["partial"]
    assert submission.sandbox_diagnostics["generalization"]["train"]["n"] == factories.SMALL_BUDGET["eval_samples"]


# release and give up: conditional UPDATEs fenced by the attempt, the backoff stamped on the database clock
@pytest.mark.database_sensitive
def test_a_grader_failure_is_retried_then_failed_and_the_score_stands(scored, settings, sent):
    submission = scored()
    settings.BASIN_SANDBOX_BACKEND = "docker"
    settings.BASIN_SANDBOX_IMAGE = "basin-sandbox:does-not-exist"  # the grader's fault, not the student's
    settings.BASIN_MAX_ATTEMPTS = 2
    run = live(submission, runs.DIAGNOSE)
    diagnose(submission)
    submission.refresh_from_db()
    run.refresh_from_db()
    assert (submission.diagnostics_status, run.state, run.attempt) == ("queued", "queued", 1)
    assert sent()[-1] == (run.pk, 10)
    diagnose(submission)
    submission.refresh_from_db()
    run.refresh_from_db()
    assert submission.diagnostics_status == "failed" and "score is not affected" in str(submission.sandbox_diagnostics)
    assert (run.state, run.outcome) == ("failed", "infrastructure_error") and "given up" in run.log
    assert submission.status == "scored" and submission.public_score is not None


# leases judged on the database clock (statement_timestamp() on PostgreSQL)
@pytest.mark.database_sensitive
def test_the_watchdog_requeues_a_lost_diagnostics_run_and_resends_a_lost_message(homework, people, sent, monkeypatch):
    now = timezone.now()

    def make(state, **fields):
        submission = Submission.objects.create(
            homework=homework, user=people["student"], file=ContentFile(b"x", name="s.zip"), original_name="s.zip",
            kind="bundle", size=1, sha256="0" * 64, status="scored", diagnostics_status=state)
        return Run.objects.create(submission=submission, kind=runs.DIAGNOSE, state=state,
                                  created_at=now - timedelta(hours=1), **fields)

    lost = make("running", attempt=1, lease_expires_at=now - timedelta(seconds=1))
    stale = make("queued", enqueued_at=now - timedelta(hours=1))
    fresh = make("queued", enqueued_at=now)
    report = watchdog.run_watchdog()
    assert report.requeued >= 1 and report.resent >= 1
    lost.refresh_from_db()
    assert lost.state == lost.submission.diagnostics_status == "queued"
    assert {pk for pk, _ in sent()} == {lost.pk, stale.pk} and fresh.pk not in {pk for pk, _ in sent()}


@pytest.mark.parametrize("budget, message", [
    ({"grid": 8}, "grid must be odd"), ({"gird": 5}, "unknown diagnostics setting"), ([1], "JSON object"),
    ({"time_limit_s": 5}, "from 10 to 7200"), ({"time_limit_s": 7000}, "at most 840 s here"),
])
def test_a_homework_with_an_unusable_diagnostics_budget_is_refused_with_the_fix(api, course, registered_dataset, budget,
                                                                                message):
    now = timezone.now()
    r = api("ta").post("/api/courses/dl101/homeworks/", {
        "slug": "hw-budget", "title": "t", "dataset": "tiny", "opens_at": now.isoformat(),
        "deadline": (now + timedelta(days=1)).isoformat(), "diagnostics_budget": budget}, format="json")
    assert r.status_code == 400, r.content
    assert message in r.content.decode()


def test_a_ta_sets_a_budget_in_the_admin_and_a_bad_one_is_refused_with_the_fix(homework, people):
    from django.test import Client

    people["ta"].is_staff = people["ta"].is_superuser = True
    people["ta"].save()
    client = Client()
    client.force_login(people["ta"])
    url = f"/admin/courses/homework/{homework.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k not in ("course", "dataset")}
    data |= {"course": homework.course_id, "dataset": homework.dataset_id,
             "opens_at_0": homework.opens_at.strftime("%Y-%m-%d"), "opens_at_1": homework.opens_at.strftime("%H:%M:%S"),
             "deadline_0": homework.deadline.strftime("%Y-%m-%d"), "deadline_1": homework.deadline.strftime("%H:%M:%S"),
             "diagnostics_budget": '{"grid": 8}'}
    data.pop("opens_at", None), data.pop("deadline", None), data.pop("private_revealed_at", None)
    refused = client.post(url, data)
    assert refused.status_code == 200 and "grid must be odd" in refused.content.decode()
    data["diagnostics_budget"] = '{"grid": 21}'
    saved = client.post(url, data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    homework.refresh_from_db()
    assert homework.diagnostics_budget == {"grid": 21}


# rescore locks the live runs (select_for_update); one live run per kind is a partial unique index
@pytest.mark.database_sensitive
def test_a_rescore_gives_the_new_diagnostics_run_its_own_tries(scored, settings, sent):
    """Each rescore makes a new diagnostics run: a grader failure on it is retried, however many
    rescores came before (the tries of earlier runs are theirs, not this one's)."""
    from basin.submissions.services import rescore

    submission = scored()
    for round in range(settings.BASIN_MAX_ATTEMPTS + 1):
        settings.BASIN_SANDBOX_BACKEND, settings.BASIN_SANDBOX_IMAGE = "docker", "basin-sandbox:does-not-exist"
        diagnose(submission)  # one grader failure: retried, never final
        submission.refresh_from_db()
        assert submission.diagnostics_status == "queued", (round, submission.sandbox_diagnostics)
        settings.BASIN_SANDBOX_BACKEND = "process"
        assert rescore(submission)
        grade(submission)
        submission.refresh_from_db()
        assert (submission.status, submission.diagnostics_status) == ("scored", "queued")
    # The history stays: every run of every round, the superseded diagnostics runs cancelled.
    history = list(submission.runs.values_list("kind", "state"))
    rounds = settings.BASIN_MAX_ATTEMPTS + 1
    assert history.count(("score", "finished")) == rounds + 1 and history.count(("diagnose", "cancelled")) == rounds
    assert latest(submission, runs.DIAGNOSE).state == "queued"


# cancel locks the live runs (select_for_update) and ends them with a conditional UPDATE
@pytest.mark.database_sensitive
def test_cancelling_a_submission_ends_its_live_diagnostics_run_and_says_so(scored, people):
    from basin.submissions.services import cancel

    submission = scored()
    run = live(submission, runs.DIAGNOSE)
    Submission.objects.filter(pk=submission.pk).update(status="running")  # a TA cancels it while it runs again
    cancel(submission=submission, actor_is_staff=True)
    submission.refresh_from_db()
    run.refresh_from_db()
    assert (submission.status, submission.diagnostics_status, run.state) == ("cancelled", "", "cancelled")
