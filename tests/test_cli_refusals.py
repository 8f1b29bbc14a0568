"""`basin` refusals a student can act on, each with its exact message and its own exit code, and the
options that work wherever they are written, against a live Basin over real HTTP."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests import factories
from tests.cli import run_basin
from tests.tokens import token_for

EXPORT_AGAIN = ("is empty (0 bytes): nothing was saved into it. Export the checkpoint again (in the notebook, run the "
                "cell that saves the bundle) and submit the file it writes.")


@pytest.fixture
def basin(live_server, homework, people, tmp_path):
    token = token_for(people["student"])

    def run(*args, **env):
        env = {"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "config"), "BASIN_URL": live_server.url,
               "BASIN_TOKEN": token, "BASIN_HOMEWORK": homework.slug, **env}
        return run_basin(args, env=env, cwd=tmp_path)

    return run


def stored(homework):
    from basin.submissions.models import Submission

    return Submission.objects.filter(homework=homework)  # .create() needs homework= again


def test_an_empty_file_is_refused_before_uploading_with_its_own_exit_code(basin, homework, tmp_path):
    (tmp_path / "model.zip").write_bytes(b"")
    done = basin("submit", "model.zip", BASIN_URL="http://127.0.0.1:9")  # nothing listens: no upload tried
    assert done.returncode == 9, done.stderr
    assert done.stderr == f"basin: model.zip {EXPORT_AGAIN}\n"
    assert not stored(homework).exists()


def test_an_identical_file_is_refused_naming_the_earlier_submission_and_force_sends_it(basin, homework, tmp_path):
    factories.write(tmp_path / "model.zip", factories.bundle())
    first = basin("--json", "submit", "model.zip")
    assert first.returncode == 0, first.stderr
    earlier = json.loads(first.stdout)["id"]
    again = basin("submit", "model.zip")
    assert again.returncode == 10, again.stderr
    assert again.stderr == (f"basin: This file is identical to your submission #{earlier} (queued): it would be "
                            "graded the same, so it was not taken and used none of your quota. Submit a changed "
                            "checkpoint, or send it again with `basin submit --force`.\n")
    assert stored(homework).count() == 1
    forced = basin("submit", "model.zip", "--force")
    assert forced.returncode == 0, forced.stderr
    assert stored(homework).count() == 2


def test_global_options_work_after_the_command_too(basin, homework, people, live_server):
    done = basin("submissions", "--url", live_server.url, "--json", BASIN_URL="http://127.0.0.1:9")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    before = basin("--json", "--url", live_server.url, "submissions", BASIN_URL="http://127.0.0.1:9")
    assert before.returncode == 0 and json.loads(before.stdout) == []  # before it, as ever


def test_logs_without_an_id_show_the_latest_submission(basin, homework, people):
    from django.utils import timezone

    older = stored(homework).create(homework=homework, user=people["student"], status="failed", size=1,
                                    sha256="0" * 64, kind="bundle", verdict="runtime_error", message="older",
                                    log_tail="older log")
    stored(homework).filter(pk=older.pk).update(created_at=timezone.now() - timedelta(hours=1))
    latest = stored(homework).create(homework=homework, user=people["student"], status="failed", size=1,
                                     sha256="1" * 64, kind="bundle", verdict="runtime_error", message="boom",
                                     log_tail="newest log")
    done = basin("logs")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"#{latest.pk} failed  runtime_error: boom\n") and "newest log" in done.stdout
    assert "older" not in done.stdout


def test_the_private_leaderboard_is_refused_before_the_reveal_and_shown_after(basin, homework, people):
    from django.utils import timezone

    early = basin("leaderboard", "--private")
    assert early.returncode == 11, early.stderr
    assert early.stderr == ("basin: The private leaderboard is shown after the course staff reveal it, once "
                            "submissions have closed.\n")
    stored(homework).create(homework=homework, user=people["student"], status="scored", size=1, sha256="0" * 64,
                            kind="bundle", public_score=0.5, private_score=0.875)
    homework.deadline = timezone.now() - timedelta(minutes=1)
    homework.opens_at = homework.deadline - timedelta(days=1)
    homework.private_revealed_at = timezone.now() - timedelta(seconds=1)
    homework.save()
    done = basin("leaderboard", "--private")
    assert done.returncode == 0, done.stderr
    assert "0.8750" in done.stdout and "0.5000" not in done.stdout
    public = basin("--json", "leaderboard")
    assert json.loads(public.stdout)["part"] == "public"


def test_a_mistyped_homework_slug_is_named_with_where_to_find_the_right_one(basin):
    done = basin("submissions", "--homework", "hw-1")
    assert (done.returncode, done.stderr) == (6, "basin: No homework 'hw-1' in your courses. The slug is in the "
                                                 "homework page's address (/homeworks/<slug>/); join its course "
                                                 "with the code from its staff.\n")
