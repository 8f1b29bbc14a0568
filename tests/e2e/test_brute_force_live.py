"""Brute force against a live Basin as production runs it: gunicorn (Basin's own config) in two
processes, the database (SQLite, and PostgreSQL) and a Redis cache they share. The counts must hold
across processes: the requests take turns between the two (two servers on two ports, so each process
surely answers half; within one server the kernel may hand every connection to one worker), and
100 wrong passwords to POST /api/auth/token/ and then the right one get 429 JSON, and so do wrong join
codes past their limit."""
from __future__ import annotations

import itertools
import re
import subprocess
import sys

import pytest
import requests

from tests import services
from tests.e2e.live import ROOT, LivePlatform, base_env, free_port

CACHE_DB = 11  # a Redis database of this test's own: the join-code counts live there
SEED = """
from django.contrib.auth import get_user_model
from basin.accounts.services import create_token
from basin.courses.models import Course
User = get_user_model()
User.objects.create_user(username="student", password="student-password-1")
guesser = User.objects.create_user(username="guesser", password="guesser-password-1")
print("token", create_token(user=guesser, label="basin login").secret)
print("code", Course.objects.create(slug="dl101", title="Deep Learning 101").join_code)
"""


@pytest.fixture(params=["sqlite", "postgres"])
def live(request, tmp_path):
    services.require("redis")
    import redis

    cache_url = f"redis://127.0.0.1:6379/{CACHE_DB}"
    redis.Redis.from_url(cache_url).flushdb()
    # One proxy in front, as deployed: the tests below speak for many clients through X-Forwarded-For.
    env = base_env(tmp_path / "data") | {"BASIN_CACHE_URL": cache_url, "BASIN_PROXY_COUNT": "1"}
    if request.param == "postgres":
        services.require("postgres")
        env["DATABASE_URL"] = request.getfixturevalue("postgres_database")
    for command in (["migrate", "--noinput"], ["shell", "-c", SEED]):
        done = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    seeded = dict(re.findall(r"^(token|code) (\S+)$", done.stdout, re.M))
    platform = LivePlatform(env, tmp_path)
    platform.bases = [platform.base, f"http://127.0.0.1:{free_port()}"]
    for i, base in enumerate(platform.bases):
        platform.start(f"web{i}", [sys.executable, "-m", "gunicorn", "basin.wsgi", "-c", "python:basin.gunicorn_conf",
                                   "--workers", "1", "--bind", base.removeprefix("http://")])

    def up():
        try:
            return all(requests.get(f"{base}/health/", timeout=5).status_code == 200 for base in platform.bases)
        except requests.RequestException:  # not listening yet, or still importing Basin
            return False

    platform.wait_for(up, 120, "both gunicorn processes")
    yield platform, seeded
    platform.stop()
    redis.Redis.from_url(cache_url).flushdb()


def urls(platform, path: str):
    """The path on each of the two processes in turn, without end."""
    return itertools.cycle([f"{base}{path}" for base in platform.bases])


def test_100_wrong_passwords_then_the_right_one_get_429_across_workers(live):
    platform, _ = live
    http = requests.Session()
    http.headers["Connection"] = "close"  # a new connection each time: either worker may take it
    url = urls(platform, "/api/auth/token/")
    answers = [http.post(next(url), json={"username": "student", "password": f"guess-{n}"}, timeout=10).status_code
               for n in range(100)]
    assert answers[:9] == [401] * 9 and set(answers[9:]) == {429}
    right = http.post(next(url), json={"username": "student", "password": "student-password-1"}, timeout=10)
    assert right.status_code == 429 and right.headers["Content-Type"] == "application/json"
    assert right.json()["error"]["code"] == "too_many_attempts" and int(right.headers["Retry-After"]) > 0


def test_guesses_lock_the_guesser_not_the_victim_or_the_campus_across_workers(live):
    """F6, F7 as production runs: ten wrong passwords for a named account from one address lock that
    pair only; ten unknown names from a shared campus address lock no one there."""
    platform, _ = live
    http = requests.Session()
    http.headers["Connection"] = "close"
    url = urls(platform, "/api/auth/token/")

    def login(username: str, password: str, address: str) -> int:
        return http.post(next(url), json={"username": username, "password": password}, timeout=10,
                         headers={"X-Forwarded-For": address}).status_code

    assert [login("student", f"guess-{n}", "198.51.100.9") for n in range(10)] == [401] * 9 + [429]
    assert login("student", "student-password-1", "198.51.100.9") == 429
    assert login("student", "student-password-1", "192.0.2.50") == 200  # the owner, from home
    assert [login(f"nobody{n}", "x", "203.0.113.7") for n in range(10)] == [401] * 10
    assert login("guesser", "guesser-password-1", "203.0.113.7") == 200  # a classmate on the campus network


# Join-code guesses are counted in the shared cache (Redis), not the database: one database is enough.
@pytest.mark.parametrize("live", ["postgres"], indirect=True)
def test_wrong_join_codes_get_429_across_workers(live):
    platform, seeded = live
    http = requests.Session()
    http.headers.update({"Connection": "close", "Authorization": f"Token {seeded['token']}"})
    url = urls(platform, "/api/courses/join/")
    answers = [http.post(next(url), json={"code": f"guess-{n}"}, timeout=10).status_code for n in range(30)]
    assert answers[:10] == [404] * 10 and set(answers[10:]) == {429}
    right = http.post(next(url), json={"code": seeded["code"]}, timeout=10)
    assert right.status_code == 429 and right.json()["error"]["code"] == "too_many_attempts"
