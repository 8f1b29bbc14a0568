"""The public leaderboard: best public score per student, ties to the earlier submission,
baselines in place, no private score anywhere, a constant number of queries."""
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from basin.leaderboard.selectors import public_leaderboard

# The tests marked database_sensitive are re-run on PostgreSQL (tests/platform/test_on_postgres.py).
pytestmark = pytest.mark.django_db


# public_leaderboard: ROW_NUMBER, COUNT and MAX over a window partitioned by student
@pytest.mark.database_sensitive
def test_each_student_appears_once_with_their_best_public_score(homework, people, scored):
    scored(people["student"], 0.50, minutes=1)
    best = scored(people["student"], 0.80, private=0.11, minutes=2)
    scored(people["student"], 0.70, minutes=3)
    scored(people["other_student"], 0.60, minutes=4)
    scored(people["other_student"], 0.99, minutes=5, status="failed")
    rows = public_leaderboard(homework)
    assert [(r.rank, r.name, r.effective_public_score, r.entries) for r in rows] == [
        (1, "student", 0.80, 3), (2, "other_student", 0.60, 1)]
    assert rows[0].submission_id == best.pk


# a tie ordered inside the window function
@pytest.mark.database_sensitive
def test_ties_go_to_the_earlier_submission(homework, people, scored):
    scored(people["other_student"], 0.75, minutes=10)
    scored(people["student"], 0.75, minutes=20)
    assert [r.name for r in public_leaderboard(homework)] == ["other_student", "student"]


# window functions (public_leaderboard)
@pytest.mark.database_sensitive
def test_baselines_are_shown_in_place_without_a_rank(homework, people, scored):
    scored(people["student"], 0.9)
    scored(people["ta"], 0.7, baseline=True)
    scored(people["other_student"], 0.6)
    rows = public_leaderboard(homework)
    assert [(r.rank, r.is_baseline) for r in rows] == [(1, False), (None, True), (2, False)]
    assert rows[1].name == "baseline: baseline CNN"


# the window query filtered on its row number: still one query on each engine
@pytest.mark.database_sensitive
def test_the_leaderboard_takes_the_same_number_of_queries_for_many_submissions(homework, people, scored):
    scored(people["student"], 0.5)
    with CaptureQueriesContext(connection) as few:
        public_leaderboard(homework)
    for i in range(30):
        scored(people["student" if i % 2 else "other_student"], i / 100, minutes=i)
        scored(people["ta"], 0.3, baseline=True)
    with CaptureQueriesContext(connection) as many:
        public_leaderboard(homework)
    assert len(many) == len(few) == 2


def test_the_page_and_the_api_show_public_scores_and_never_private_ones(client, api, homework, people, scored):
    scored(people["student"], 0.8125, private=0.4375)
    page = client.get("/homeworks/hw1/leaderboard/")
    assert page.status_code == 200
    assert "0.8125" in page.content.decode() and "0.4375" not in page.content.decode()
    data = api(None).get("/api/homeworks/hw1/leaderboard/")
    assert data.json()["rows"][0]["public_score"] == 0.8125 and "0.4375" not in data.content.decode()


def test_a_course_only_leaderboard_is_hidden_from_outsiders(client, api, homework, people, scored):
    homework.leaderboard_is_public = False
    homework.save()
    assert client.get("/homeworks/hw1/leaderboard/").status_code == 404
    assert api("outsider").get("/api/homeworks/hw1/leaderboard/").status_code == 404
    assert api("student").get("/api/homeworks/hw1/leaderboard/").status_code == 200


def test_the_page_shows_the_datas_preview_and_how_to_download_it(client, homework):
    page = client.get("/homeworks/hw1/leaderboard/").content.decode()
    assert 'url="http://testserver/api/homeworks/hw1/dataset/"' in page
    assert '<img class="preview" src="/api/homeworks/hw1/dataset/preview.png"' in page
    image = client.get("/api/homeworks/hw1/dataset/preview.png")
    assert image.status_code == 200 and b"".join(image.streaming_content).startswith(b"\x89PNG")


def test_the_table_is_cached_per_kind_of_viewer_and_never_crosses_from_tas_to_students(client, homework, people,
                                                                                      scored, settings):
    from django.core.cache import cache

    from basin.courses.models import Homework

    cache.clear()
    settings.BASIN_LEADERBOARD_CACHE_SECONDS = 60
    Homework.objects.filter(pk=homework.pk).update(pseudonymous_leaderboard=True)
    scored(people["student"], 0.8125)
    ta = Client()
    ta.force_login(people["ta"])
    assert ">student<" in ta.get("/homeworks/hw1/leaderboard/").content.decode()  # TAs see the name...
    with CaptureQueriesContext(connection) as first:
        page = client.get("/homeworks/hw1/leaderboard/").content.decode()
    assert ">student<" not in page and "0.8125" in page  # ...which a cached table never shows anyone else
    scored(people["other_student"], 0.9)
    with CaptureQueriesContext(connection) as cached:
        page = client.get("/homeworks/hw1/leaderboard/").content.decode()
    assert "0.9000" not in page and len(cached) < len(first)  # served from the cache: the new row waits
    cache.clear()
    assert "0.9000" in client.get("/homeworks/hw1/leaderboard/").content.decode()


def test_a_stale_table_is_served_while_one_request_rebuilds_it(monkeypatch):
    from django.core.cache import cache

    from basin.leaderboard import table_cache

    cache.clear()
    builds = []

    def build():
        builds.append(1)
        return f"table {len(builds)}"

    clock = [1000.0]
    monkeypatch.setattr(table_cache.time, "time", lambda: clock[0])
    assert table_cache.fresh_or_stale("k", 5, build) == "table 1"
    clock[0] += 4
    assert table_cache.fresh_or_stale("k", 5, build) == "table 1"  # fresh
    clock[0] += 2
    cache.add("k:rebuild", 1)  # another request is rebuilding it: this one is served the stale table
    assert table_cache.fresh_or_stale("k", 5, build) == "table 1" and len(builds) == 1
    cache.delete("k:rebuild")
    assert table_cache.fresh_or_stale("k", 5, build) == "table 2"  # this one rebuilds
    assert table_cache.fresh_or_stale("k", 0, build) == "table 3"  # 0: every request builds


def test_each_row_links_to_its_submissions_diagnostics_page(client, homework, people, scored):
    from django.urls import reverse

    mine = scored(people["student"], 0.8125)
    page = client.get("/homeworks/hw1/leaderboard/").content.decode()
    link = reverse("diagnostics", kwargs={"submission_id": mine.pk})
    assert f'<a href="{link}"' in page and client.get(link).status_code == 200
