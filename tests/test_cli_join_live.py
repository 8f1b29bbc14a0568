"""`basin join CODE` against a live Basin over real HTTP (pytest-django's live server)."""
from __future__ import annotations

import json

import pytest

from tests.cli import run_basin
from tests.tokens import token_for


@pytest.fixture
def basin(live_server, course, people, tmp_path):
    def run(*args, user: str | None = "outsider"):
        env = {"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "config"), "BASIN_URL": live_server.url}
        if user:
            env["BASIN_TOKEN"] = token_for(people[user])
        return run_basin(args, env=env, cwd=tmp_path)

    return run


def test_join_makes_you_a_student_once_and_says_so(basin, course, people):
    from basin.courses.models import Membership

    done = basin("join", course.join_code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "You joined Deep Learning 101 (dl101) as a student."
    assert Membership.objects.get(course=course, user=people["outsider"]).role == "student"
    again = basin("--json", "join", course.join_code)
    assert again.returncode == 0 and json.loads(again.stdout) == {"course": "dl101", "title": "Deep Learning 101",
                                                                  "role": "student", "joined": False}
    ta = basin("join", course.join_code, user="ta")
    assert ta.returncode == 0 and "already, as a TA; nothing changed" in ta.stdout


def test_join_refusals_are_one_line_with_their_exit_code(basin, course):
    unknown = basin("join", "no-such-code")
    assert unknown.returncode == 6 and unknown.stderr.startswith("basin: No course has this join code")
    assert "Traceback" not in unknown.stderr and len(unknown.stderr.strip().splitlines()) == 1
    anonymous = basin("join", course.join_code, user=None)
    assert anonymous.returncode == 4 and anonymous.stderr == (
        "basin: Not logged in: run `basin login --token TOKEN` with a token from the homework page (Get started), "
        "or `basin login` with your username and password.\n")
