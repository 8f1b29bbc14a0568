"""Guessing through the `basin` command against a live Basin over real HTTP (pytest-django's live
server): past the limit, `basin login` and `basin join` stop with a one-line message that says how
long to wait, even for the right password or code, and exit 5 (refused)."""
from __future__ import annotations

import pytest

from tests.cli import run_basin
from tests.tokens import token_for


@pytest.fixture
def basin(live_server, course, people, tmp_path):
    def run(*args, stdin: str = ""):
        env = {"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "config"), "BASIN_URL": live_server.url,
               "BASIN_TOKEN": token_for(people["outsider"])}
        return run_basin(args, env=env, input=stdin, cwd=tmp_path)

    return run


def test_basin_login_stops_guessing_with_a_message(basin, settings):
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        wrong = basin("login", "--username", "student", stdin=f"guess-{n}\n")
        assert wrong.returncode == 4 and "Wrong username or password" in wrong.stderr
    locked = basin("login", "--username", "student", stdin="guess-last\n")
    right = basin("login", "--username", "student", stdin="student-password-1\n")
    for answer in (locked, right):  # (before it, getpass may warn that it cannot hide the typing of a pipe)
        message = answer.stderr.strip().splitlines()[-1]
        assert answer.returncode == 5 and message.startswith("basin: Too many failed logins")
        assert "Wait 15 minutes" in message and "Traceback" not in answer.stderr


def test_basin_join_stops_guessing_with_a_message(basin, course, settings):
    for n in range(settings.BASIN_JOIN_CODE_FAILURES_PER_ACCOUNT):
        assert basin("join", f"guess-{n}").returncode == 6  # not found
    right = basin("join", course.join_code)
    assert right.returncode == 5 and right.stderr.startswith("basin: Too many wrong join codes")
    assert "Traceback" not in right.stderr and len(right.stderr.strip().splitlines()) == 1
