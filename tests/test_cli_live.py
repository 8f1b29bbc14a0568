"""The `basin` commands against a live Basin over real HTTP (pytest-django's live server):
download (sha256-checked, resumable, into the layout DifficultMNIST reads), logs, status, select."""
from __future__ import annotations

import json

import numpy as np
import pytest

from basin_grader import dataset_layout as layout
from tests.cli import run_basin
from tests.tokens import token_for


@pytest.fixture
def basin(live_server, homework, people, tmp_path):
    token = token_for(people["student"])

    def run(*args, token=token):
        env = {"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "config"), "BASIN_URL": live_server.url,
               "BASIN_TOKEN": token, "BASIN_HOMEWORK": homework.slug}
        return run_basin(args, env=env, cwd=tmp_path)

    return run


def test_download_fetches_the_public_splits_once_and_checks_them(basin, tmp_path, tiny_dataset):
    done = basin("--json", "download")
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)["files"].values()) == {"fetched"}
    for split in layout.PUBLIC_SPLITS:
        for name in layout.PUBLIC_FILES:
            assert (tmp_path / "data" / split / name).read_bytes() == (tiny_dataset / split / name).read_bytes()
    assert not (tmp_path / "data" / "test").exists()
    again = basin("download", "--split", "val")
    assert again.returncode == 0 and "0 files downloaded, 3 already there and intact" in again.stdout

    from dmnist import DifficultMNIST

    assert len(DifficultMNIST(tmp_path / "data", split="val")) == 60


def test_an_interrupted_download_resumes_where_it_stopped(basin, tmp_path, tiny_dataset):
    source = (tiny_dataset / "train" / "images.npy").read_bytes()
    partial = tmp_path / "data" / "train" / "images.npy.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(source[:100_000])  # what a dropped connection leaves
    done = basin("download", "--split", "train")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "train" / "images.npy").read_bytes() == source and not partial.exists()
    # The server really sent only the rest: wrong leading bytes kept in the .part show up in the checksum.
    (tmp_path / "data" / "train" / "images.npy").unlink()
    partial.write_bytes(b"\0" * 100_000)
    broken = basin("download", "--split", "train")
    assert broken.returncode == 5 and "failed its checksum" in broken.stderr and "Traceback" not in broken.stderr
    assert not partial.exists()  # deleted, so the next run starts clean
    assert basin("download", "--split", "train").returncode == 0


def test_hidden_splits_cannot_be_asked_for(basin):
    done = basin("download", "--split", "test")
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_logs_show_a_failed_submissions_tail_unless_the_course_hides_them(basin, homework, people):
    from basin.submissions.models import Submission

    failed = Submission.objects.create(homework=homework, user=people["student"], status="failed", size=1,
                                       sha256="0" * 64, kind="bundle", verdict="runtime_error",
                                       message="ValueError: my model is broken", log_tail="Traceback ...\nValueError")
    done = basin("logs", str(failed.pk))
    assert done.returncode == 0 and "runtime_error" in done.stdout and "Traceback ...\nValueError" in done.stdout
    homework.show_logs_to_students = False
    homework.save()
    hidden = basin("logs", str(failed.pk))
    assert hidden.returncode == 0 and "hides grading logs" in hidden.stdout and "Traceback" not in hidden.stdout
    other = Submission.objects.create(homework=homework, user=people["other_student"], status="queued", size=1,
                                      sha256="1" * 64, kind="bundle")
    assert basin("logs", str(other.pk)).returncode == 6  # another student's: not found


def test_logs_show_the_hidden_pass_only_to_the_courses_tas(basin, homework, people):
    from basin.submissions.models import Submission

    failed = Submission.objects.create(homework=homework, user=people["student"], status="failed", size=1,
                                       sha256="0" * 64, kind="bundle", verdict="runtime_error", message="fixed",
                                       log_tail="rehearsal said hi", hidden_log="hidden pass said 7f3a")
    mine = basin("logs", str(failed.pk))
    assert "rehearsal said hi" in mine.stdout and "7f3a" not in mine.stdout and "hidden test images" not in mine.stdout
    ta = token_for(people["ta"])
    staff = basin("--json", "logs", str(failed.pk), token=ta)
    assert json.loads(staff.stdout)["hidden_log"] == "hidden pass said 7f3a"
    assert "hidden pass said 7f3a" in basin("logs", str(failed.pk), token=ta).stdout


class CuttingProxy:
    """A TCP proxy in front of the live server that drops each connection after `budget` bytes of
    answer: a real broken download, as a flaky network makes one."""

    def __init__(self, upstream: str, budget: int):
        import socket
        import threading

        self.host, self.port = upstream.removeprefix("http://").split(":")
        self.budget = budget
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.cuts = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import socket
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((self.host, int(self.port)))
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, self.budget), daemon=True).start()

    def _pump(self, source, target, budget):
        import socket

        sent = 0
        try:
            while data := source.recv(65536):
                if budget is not None and sent + len(data) > budget:
                    target.sendall(data[:budget - sent])
                    self.cuts += 1
                    break
                target.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for s in (source, target):  # shutdown first: the other direction's thread is blocked in recv
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self):
        self.listener.close()


def test_a_download_cut_off_mid_file_resumes_on_the_next_run(live_server, homework, people, tmp_path, tiny_dataset):
    token = token_for(people["student"])
    proxy = CuttingProxy(live_server.url, budget=400_000)
    env = {"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "config"), "BASIN_URL": proxy.url,
           "BASIN_TOKEN": token, "BASIN_HOMEWORK": homework.slug}
    runs = []
    try:
        for _ in range(15):
            done = run_basin(["download", "--split", "train"], env=env, cwd=tmp_path)
            runs.append(done)
            assert "Traceback" not in done.stderr, done.stderr
            if done.returncode == 0:
                break
            assert done.returncode == 3 and "run the command again to resume" in done.stderr, done.stderr
    finally:
        proxy.close()
    assert runs[-1].returncode == 0 and len(runs) > 2, [r.stderr for r in runs]  # cut several times, then whole
    source = tiny_dataset / "train" / "images.npy"
    assert (tmp_path / "data" / "train" / "images.npy").read_bytes() == source.read_bytes()


def test_status_without_an_id_shows_the_latest_submission(basin, homework, people):
    from datetime import timedelta

    from django.utils import timezone

    from basin.submissions.models import Submission

    assert basin("status").returncode == 6  # none yet
    older = Submission.objects.create(homework=homework, user=people["student"], status="scored", size=1,
                                      sha256="0" * 64, kind="bundle", public_score=0.5)
    Submission.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(hours=1))
    latest = Submission.objects.create(homework=homework, user=people["student"], status="queued", size=1,
                                       sha256="1" * 64, kind="bundle")
    done = basin("--json", "status")
    assert done.returncode == 0 and json.loads(done.stdout)["id"] == latest.pk


def test_select_chooses_final_submissions_within_the_rules(basin, homework, people):
    from basin.submissions.models import Submission

    def make(user, status="scored"):
        return Submission.objects.create(homework=homework, user=people[user], status=status, size=1,
                                         sha256="0" * 64, kind="bundle", public_score=0.5)

    a, b, c = make("student"), make("student"), make("student")
    failed, theirs = make("student", "failed"), make("other_student")
    done = basin("--json", "select", str(a.pk), str(b.pk))
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert [s["id"] for s in body["selected"]] == [a.pk, b.pk] and body["final_selections"] == 2
    too_many = basin("select", str(a.pk), str(b.pk), str(c.pk))
    assert too_many.returncode == 5 and "at most 2" in too_many.stderr
    assert basin("select", str(failed.pk)).returncode == 5
    assert basin("select", str(theirs.pk)).returncode == 6  # another student's is not yours to choose
    assert sorted(Submission.objects.filter(selected=True).values_list("pk", flat=True)) == [a.pk, b.pk]
    shown = basin("select")
    assert shown.returncode == 0 and "2 of 2 chosen" in shown.stdout
    replaced = basin("--json", "select", str(c.pk))
    assert [s["id"] for s in json.loads(replaced.stdout)["selected"]] == [c.pk]
    assert basin("select", "--clear").returncode == 0
    assert not Submission.objects.filter(selected=True).exists()

    from datetime import timedelta

    from django.utils import timezone

    homework.deadline = timezone.now() - timedelta(minutes=1)
    homework.opens_at = homework.deadline - timedelta(days=1)
    homework.save()
    late = basin("select", str(a.pk))
    assert late.returncode == 5 and "deadline has passed" in late.stderr


def test_login_saves_a_private_config_that_later_commands_use(live_server, homework, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "config")}

    def run(*args, stdin=""):
        return run_basin(args, input=stdin, env=env)

    wrong = run("--url", live_server.url, "login", "--username", "student", stdin="not-the-password\n")
    assert wrong.returncode == 4 and "Wrong username or password" in wrong.stderr
    done = run("--url", live_server.url, "login", "--username", "student", "--homework", homework.slug,
               stdin="student-password-1\n")
    assert done.returncode == 0, done.stderr
    saved = tmp_path / "config" / "basin" / "config.json"
    assert saved.stat().st_mode & 0o777 == 0o600
    assert json.loads(saved.read_text())["homework"] == homework.slug
    listed = run("--json", "submissions")  # server, token and homework all from the config file
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    board = run("leaderboard")
    assert board.returncode == 0 and "No scored submission yet" in board.stdout


def test_every_refusal_is_one_line_with_its_own_exit_code(basin, homework, people, tmp_path, live_server):
    from datetime import timedelta

    from django.utils import timezone

    from basin.submissions.models import Submission
    from tests import factories

    good = factories.write(tmp_path / "good.zip", factories.bundle())
    bad = factories.write(tmp_path / "bad.zip", b"PK\x05\x06" + b"\0" * 18)  # an empty zip: no model.py

    def one_line(done, code, text):
        assert done.returncode == code, (done.returncode, done.stderr)
        assert text in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr

    one_line(basin("submit", str(bad)), 5, "model.py")  # an invalid checkpoint
    homework.max_upload_mb = 1
    homework.save()
    big = factories.write(tmp_path / "big.zip", factories.bundle(extra={"padding.bin": np.random.default_rng(0)
                                                                         .bytes(3 << 20)}))
    one_line(basin("submit", str(big)), 5, "accepts at most 1 MB")  # a file too large
    homework.max_upload_mb = 50
    homework.save()
    for _ in range(homework.daily_quota):
        Submission.objects.create(homework=homework, user=people["student"], status="queued", size=1,
                                  sha256="0" * 64, kind="bundle")
    one_line(basin("submit", str(good)), 5, f"used all {homework.daily_quota} submissions")  # the quota
    homework.deadline = timezone.now() - timedelta(minutes=1)
    homework.opens_at = homework.deadline - timedelta(days=1)
    homework.save()
    one_line(basin("submit", str(good)), 5, "The deadline was")  # a passed deadline
    env = {"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "none"), "BASIN_URL": live_server.url,
           "BASIN_TOKEN": "expired0000000000000000000000000000000", "BASIN_HOMEWORK": homework.slug}
    expired = run_basin(["submissions"], env=env)
    one_line(expired, 4, "run `basin login` for a new one")  # a bad or expired token
    one_line(basin("status", "999999"), 6, "No such submission")
