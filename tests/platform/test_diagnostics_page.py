"""The diagnostics page of a submission: who may see it, what it shows before and after the
reveal, comparison, and a constant number of queries."""
import json
import re
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from basin import dispatch
from basin.submissions.models import Submission
from tests.runs import diagnose

# Pages and the schema: the same on SQLite and PostgreSQL; not re-run there.
pytestmark = pytest.mark.django_db

PRIVATE = {"calibration": {"ece": 0.5}, "gap_from_public": {"gap": 0.01, "ci95": [0.0, 0.02]}}


def stored(homework, user, **fields) -> Submission:
    """A scored row as the worker stores it (content from the real pipeline is the next test's)."""
    from basin.grading.diagnostics import leaderboard_fields

    row = dict(
        status="scored", public_score=0.5, private_score=0.625,
        scores={"public": {"accuracy": 0.5, "confusion": [[1]]}, "private": {"accuracy": 0.625, "confusion": [[2]]},
                "all": {"accuracy": 0.5625, "confusion": [[3]]}, "shift": {"accuracy": 0.25}},
        trusted_diagnostics={"profile": "cpu", "public": {"calibration": {"ece": 0.1}}, "private": PRIVATE},
        diagnostics_status="complete", sandbox_diagnostics={"status": "complete"})
    row |= fields
    row |= leaderboard_fields(row["sandbox_diagnostics"])
    return Submission.objects.create(homework=homework, user=user, file=ContentFile(b"x", name="s.zip"),
                                     original_name="s.zip", kind="bundle", size=1, sha256="0" * 64, **row)


def embedded(response) -> dict:
    match = re.search(r'<script id="diagnostics-data" type="application/json">(.*?)</script>',
                      response.content.decode(), re.S)
    return json.loads(match.group(1))


def login(persona: str, people) -> Client:
    client = Client()
    if persona != "anonymous":
        client.force_login(people[persona])
    return client


def test_a_real_submission_page_embeds_its_diagnostics_and_ships_plotly_itself(scored_submission, settings, monkeypatch,
                                                                               people):
    monkeypatch.setattr(dispatch, "send", lambda task, pk, countdown=0: True)  # no broker here
    submission = scored_submission()
    diagnose(submission)
    page = Client().get(f"/submissions/{submission.pk}/diagnostics/")
    assert page.status_code == 200
    data = embedded(page)[str(submission.pk)]
    assert data["diagnostics"]["model"]["landscape"]["grid"]["train"]["loss"]
    # Before the reveal, a summary of the hidden split (its detail could carry hidden images out);
    # the course's TAs read it all.
    assert data["scores"]["public"]["accuracy"] is not None and "private" not in data["scores"]
    assert "confusion" not in data["scores"]["public"] and data["diagnostics"]["detail_after_reveal"]
    assert embedded(login("ta", people).get(f"/submissions/{submission.pk}/diagnostics/"))[
        str(submission.pk)]["scores"]["public"]["confusion"]
    html = page.content.decode()
    assert "/static/plotly/plotly.min.js" in html and "cdn" not in html.lower()
    assert "Top Hessian eigenvalue" in html and "Basin area" in html
    js = Client().get("/static/plotly/plotly.min.js")
    assert js.status_code == 200 and b"plotly" in b"".join(js.streaming_content)[:2000].lower()


def test_nothing_of_the_private_part_before_the_reveal_and_all_of_it_after(homework, people):
    submission = stored(homework, people["student"])
    before = Client().get(f"/submissions/{submission.pk}/diagnostics/")
    text = before.content.decode()
    assert before.status_code == 200 and "0.625" not in text and "0.5, 0.0, 0.02" not in text
    data = embedded(before)[str(submission.pk)]
    # an allow-list: the whole split's scores give the private part away (all − public), so they wait too
    assert set(data["scores"]) == {"public", "shift", "detail_after_reveal"}
    assert set(data["diagnostics"]) == {"profile", "public", "model", "detail_after_reveal"}
    assert "0.5625" not in text
    homework.private_revealed_at = timezone.now() - timedelta(minutes=1)
    homework.save()
    after = Client().get(f"/submissions/{submission.pk}/diagnostics/")
    data = embedded(after)[str(submission.pk)]
    assert data["diagnostics"]["private"] == PRIVATE and data["scores"]["private"]["accuracy"] == 0.625
    assert data["scores"]["all"]["accuracy"] == 0.5625
    assert "Private accuracy" in after.content.decode() and "0.6250" in after.content.decode()


@pytest.mark.parametrize("public, persona, status_code", [
    (True, "anonymous", 200), (True, "outsider", 200), (True, "other_student", 200),
    (False, "anonymous", 404), (False, "outsider", 404), (False, "other_ta", 404),
    (False, "other_student", 200), (False, "ta", 200), (False, "student", 200),
])
def test_the_page_is_open_to_whoever_may_see_the_leaderboard(homework, people, public, persona, status_code):
    homework.leaderboard_is_public = public
    homework.save()
    submission = stored(homework, people["student"])
    response = login(persona, people).get(f"/submissions/{submission.pk}/diagnostics/")
    assert response.status_code == status_code
    if status_code == 200:  # numbers only: never the file or the logs
        text = response.content.decode()
        assert "s.zip" not in text and "/media/" not in text and "log_tail" not in text


def test_unscored_unknown_and_mismatched_submissions_are_404s(homework, people, course, registered_dataset):
    from basin.courses.services import create_homework

    failed = stored(homework, people["student"], status="failed")
    ok = stored(homework, people["student"])
    now = timezone.now()
    elsewhere = create_homework(actor=people["ta"], course=course, slug="hw2", title="Homework 2",
                                dataset=registered_dataset, opens_at=now - timedelta(days=1),
                                deadline=now + timedelta(days=1))
    foreign = stored(elsewhere, people["student"])
    client = Client()
    assert client.get(f"/submissions/{failed.pk}/diagnostics/").status_code == 404
    assert client.get("/submissions/999999/diagnostics/").status_code == 404
    assert client.get(f"/submissions/{ok.pk}/diagnostics/?compare={foreign.pk}").status_code == 404
    bad = client.get(f"/submissions/{ok.pk}/diagnostics/?compare=abc")
    assert bad.status_code == 404 and "number of another scored submission" in bad.content.decode()


def test_two_submissions_side_by_side(homework, people):
    a, b = stored(homework, people["student"]), stored(homework, people["other_student"])
    page = Client().get(f"/submissions/{a.pk}/diagnostics/?compare={b.pk}")
    assert page.status_code == 200 and set(embedded(page)) == {str(a.pk), str(b.pk)}
    assert page.content.decode().count('class="panel"') == 2


def test_leaderboard_and_diagnostics_pages_query_the_database_a_constant_number_of_times(homework, people):
    client = Client()

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    first = stored(homework, people["student"])
    stored(homework, people["other_student"])
    board_few = queries(f"/homeworks/{homework.slug}/leaderboard/")
    page_few = queries(f"/submissions/{first.pk}/diagnostics/")
    for _ in range(25):
        stored(homework, people["student"])
        stored(homework, people["other_student"])
        stored(homework, people["ta"], is_baseline=True)
    assert queries(f"/homeworks/{homework.slug}/leaderboard/") == board_few
    assert queries(f"/submissions/{first.pk}/diagnostics/") == page_few
    last = Submission.objects.latest("pk")
    assert queries(f"/submissions/{first.pk}/diagnostics/?compare={last.pk}") == page_few + 1  # the one compared with


def test_each_leaderboard_row_carries_its_landscape_thumbnail_and_sharpness(homework, people):
    line = [2.5, 2.1, 2.0, 2.2, 2.9]
    report = {"status": "complete", "trust": {"trusted": True, "failed": {}}, "sharpness": {"top_eigenvalue": 12.3456},
              "landscape": {"lines": [{"train": {"loss": line}, "val": {"loss": line}}]}}
    stored(homework, people["student"], sandbox_diagnostics=report)
    stored(homework, people["other_student"], public_score=0.4)  # no diagnostics yet: an empty cell, no error
    # the same numbers in a report that failed a check (or was never checked) stay off the leaderboard
    stored(homework, people["ta"], public_score=0.3, sandbox_diagnostics={
        **report, "sharpness": {"top_eigenvalue": 65.4321}, "trust": {"trusted": False, "failed": {"device": "cuda"}}})
    page = Client().get(f"/homeworks/{homework.slug}/leaderboard/").content.decode()
    assert page.count('<svg class="sparkline"') == 1 and "12.346" in page and "65.432" not in page
    rows = Client().get(f"/api/homeworks/{homework.slug}/leaderboard/").json()["rows"]
    assert rows[0]["landscape"] == line and rows[0]["sharpness"] == 12.3456
    assert rows[1]["landscape"] is None and rows[1]["sharpness"] is None
    assert rows[2]["landscape"] is None and rows[2]["sharpness"] is None


@pytest.mark.parametrize("persona, quoted", [("student", True), ("ta", True), ("other_student", False),
                                             ("anonymous", False)])
def test_why_a_part_failed_is_quoted_only_to_the_owner_and_the_tas(homework, people, persona, quoted):
    submission = stored(homework, people["student"], sandbox_diagnostics={
        "status": "partial", "errors": {"sharpness": "RuntimeError: secret path /home/me/model.py"}})
    page = login(persona, people).get(f"/submissions/{submission.pk}/diagnostics/").content.decode()
    assert ("secret path" in page) is quoted
    assert "sharpness" in page


def test_viewers_see_pseudonyms_and_only_the_submissions_the_leaderboard_shows(homework, people):
    from basin.courses.models import Homework, Membership

    Homework.objects.filter(pk=homework.pk).update(pseudonymous_leaderboard=True)
    best = stored(homework, people["student"], public_score=0.9)
    earlier = stored(homework, people["student"], public_score=0.6)
    pseudonym = Membership.objects.get(course=homework.course, user=people["student"]).pseudonym
    page = login("anonymous", people).get(f"/submissions/{best.pk}/diagnostics/").content.decode()
    assert pseudonym in page and '"student"' not in page and ">student<" not in page
    # A submission that is not on the leaderboard (not the student's best) is the owner's and the TAs' only.
    assert login("anonymous", people).get(f"/submissions/{earlier.pk}/diagnostics/").status_code == 404
    assert login("other_student", people).get(f"/submissions/{best.pk}/diagnostics/?compare={earlier.pk}"
                                              ).status_code == 404
    for persona in ("student", "ta"):
        page = login(persona, people).get(f"/submissions/{earlier.pk}/diagnostics/")
        assert page.status_code == 200 and "student" in page.content.decode()
