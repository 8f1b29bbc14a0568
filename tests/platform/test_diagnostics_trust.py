"""A diagnostics report that fails the worker's checks is stored as not trustworthy, kept off the
leaderboard and flagged on its page; an honest one is shown there. Through the whole pipeline: a
scored submission, its diagnostics run in the sandbox, the leaderboard and diagnostics pages."""
import json
import math

import pytest
from django.test import Client

from basin import dispatch
from basin.grading import diagnostics
from tests import factories
from tests.grader.test_adversarial_diagnostics import forging
from tests.runs import diagnose

# The tests marked database_sensitive are re-run on PostgreSQL (tests/platform/test_on_postgres.py).
pytestmark = pytest.mark.django_db

# A model whose runtime claims a GPU and a flat minimum: every number the leaderboard would show.
LIAR = forging("report['device'], report['precision'] = 'cuda', 'bf16'\n"
               "if 'sharpness' in report:\n    report['sharpness'].update(top_eigenvalue=0.0)")


@pytest.fixture
def quiet(monkeypatch):
    monkeypatch.setattr(dispatch, "send", lambda task, pk, countdown=0: True)  # no broker here


def diagnosed(scored_submission, source: str):
    submission = scored_submission(factories.bundle(model_source=source))
    diagnose(submission)
    submission.refresh_from_db()
    return submission


def client(people, persona: str | None) -> Client:
    c = Client()
    if persona:
        c.force_login(people[persona])
    return c


# What the platform does with a lying report; lies told through Docker are tests/grader's
# (test_adversarial_diagnostics.py).
def test_a_lying_report_is_stored_untrusted_and_kept_off_the_leaderboard(scored_submission, quiet, people, homework):
    liar = diagnosed(scored_submission, LIAR)
    report = liar.sandbox_diagnostics
    assert report["trust"]["trusted"] is False
    assert {"device", "precision", "sharpness_zero"} <= set(report["trust"]["failed"])
    assert liar.diagnostics_status == "partial" and report["status"] == "untrusted"
    assert liar.landscape_thumbnail is None and liar.sharpness is None

    board = client(people, "other_student").get(f"/homeworks/{homework.slug}/leaderboard/").content.decode()
    assert f"/submissions/{liar.pk}/diagnostics/" in board and "<svg class=\"sparkline\"" not in board

    page = client(people, "other_student").get(f"/submissions/{liar.pk}/diagnostics/").content.decode()
    assert "Not trustworthy" in page and "sharpness_zero" not in page  # which checks failed: TAs only
    staff_page = client(people, "ta").get(f"/submissions/{liar.pk}/diagnostics/").content.decode()
    assert "Not trustworthy" in staff_page and "sharpness_zero" in staff_page


def test_an_honest_report_is_trusted_and_on_the_leaderboard(scored_submission, quiet, people, homework):
    honest = diagnosed(scored_submission, factories.BASELINE_SOURCE)
    assert honest.sandbox_diagnostics["trust"] == {"trusted": True, "failed": {}}
    assert honest.diagnostics_status == "complete"
    assert honest.landscape_thumbnail and honest.sharpness == honest.sandbox_diagnostics["sharpness"]["top_eigenvalue"]
    board = client(people, "other_student").get(f"/homeworks/{homework.slug}/leaderboard/").content.decode()
    assert "<svg class=\"sparkline\"" in board
    page = client(people, "other_student").get(f"/submissions/{honest.pk}/diagnostics/").content.decode()
    assert "come from running the submission's own code" in page and "Not trustworthy" not in page


@pytest.mark.database_sensitive
def test_every_number_stored_is_finite(homework, people):
    """PostgreSQL's jsonb refuses NaN and infinity; a report is stored with them as null."""
    from django.core.files.base import ContentFile

    from basin.submissions import runs
    from basin.submissions.models import Submission

    submission = Submission.objects.create(
        homework=homework, user=people["student"], file=ContentFile(b"x", name="s.zip"), original_name="s.zip",
        kind="bundle", size=1, sha256="0" * 64, status="scored", public_score=0.5)
    claim = runs.claim(runs.open_run(submission.pk, runs.DIAGNOSE).pk, runs.DIAGNOSE, "w1")
    report = {"status": "complete", "trust": {"trusted": True, "failed": {}},
              "sharpness": {"top_eigenvalue": math.inf, "trace": math.nan},
              "landscape": {"lines": [{"train": {"loss": [1.0, -math.inf, 2.0]}}]}}
    assert diagnostics._record(claim, report)
    submission.refresh_from_db()
    stored = submission.sandbox_diagnostics
    json.dumps(stored, allow_nan=False)
    assert stored["sharpness"] == {"top_eigenvalue": None, "trace": None}
    assert submission.sharpness is None and submission.landscape_thumbnail == [1.0, None, 2.0]


@pytest.mark.parametrize("persona, sees_checks", [("ta", True), ("student", False), ("other_student", False)])
def test_which_checks_failed_is_for_the_tas_in_the_api_too(homework, people, api, persona, sees_checks):
    from django.core.files.base import ContentFile

    from basin.submissions.models import Submission

    submission = Submission.objects.create(
        homework=homework, user=people["student"], file=ContentFile(b"x", name="s.zip"), original_name="s.zip",
        kind="bundle", size=1, sha256="0" * 64, status="scored", public_score=0.5, diagnostics_status="partial",
        sandbox_diagnostics={"status": "untrusted",
                           "trust": {"trusted": False, "failed": {"feature_labels": "not the val labels"}}})
    response = api(persona).get(f"/api/submissions/{submission.pk}/")
    if persona == "other_student":
        assert response.status_code == 404
        return
    trust = response.json()["diagnostics"]["model"]["trust"]
    assert trust["trusted"] is False and ("feature_labels" in json.dumps(trust)) is sees_checks
