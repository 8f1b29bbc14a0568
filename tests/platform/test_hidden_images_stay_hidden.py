"""Hidden test images never reach a student, whatever the model prints, raises or writes.

Each hostile model (tests/hostile_models.py) plants a piece of the hidden images in one channel:
its log, an exception's text, an exception class's name, a forged result.json, the shape of its
output, the count of NaN rows. It is graded through the real sandbox, then every field a student
can read about it is searched for any 16-byte run of any hidden image, raw or in hex, base64 or
base85 (tests/hidden_runs.py): the API as its owner, the homework page, the leaderboard page and
API, the diagnostics page, the `basin` command's every view of it, and e-mail (Basin sends none
about a submission yet: the outbox is searched all the same). The course's TA must find the
planted images in the hidden pass's log: the attacks ran, and the search finds what they wrote.
"""
from __future__ import annotations

import html
import json

import pytest
from django.core import mail
from django.test import Client

from basin.courses.models import Course
from basin.grading import services as grading
from basin.submissions import runs
from basin.submissions.models import Submission
from basin_grader.verdicts import HIDDEN_PASS_MESSAGES, INVALID_OUTPUT, RUNTIME_ERROR, SCORED
from tests import factories, hostile_models, services
from tests.cli import run_basin
from tests.hidden_runs import HiddenImages
from tests.tokens import token_for

EXPECTED = {"prints": SCORED, "raises": RUNTIME_ERROR, "named exception": RUNTIME_ERROR, "claims": RUNTIME_ERROR,
            "shapes": INVALID_OUTPUT, "NaN rows": INVALID_OUTPUT}


@pytest.fixture(scope="module")
def hidden(tiny_dataset):
    return HiddenImages(tiny_dataset)


# What a student reads is decided in basin_grader.evaluate, whatever the backend: every attack runs
# on the process sandbox, and those that use the container's own channels (its log, the files it
# writes) on Docker too.
ATTACKS = [pytest.param(name, "process", id=f"process-{name}") for name in hostile_models.ALL] + [
    pytest.param(name, "docker", id=f"docker-{name}", marks=pytest.mark.docker)
    for name in ("prints", "raises", "claims")]


def graded(homework, user, source: str) -> Submission:
    from django.core.files.base import ContentFile

    submission = Submission.objects.create(
        homework=homework, user=user, file=ContentFile(factories.bundle(model_source=source), name="s.zip"),
        original_name="model.zip", kind="bundle", size=1, sha256="0" * 64)
    grading.grade(runs.open_run(submission.pk, runs.SCORE).pk)
    submission.refresh_from_db()
    return submission


def cli(live_server, token: str, homework, tmp_path, *args) -> str:
    env = {"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "config"), "BASIN_URL": live_server.url,
           "BASIN_TOKEN": token, "BASIN_HOMEWORK": homework.slug}
    done = run_basin(args, env=env, cwd=tmp_path)  # in this process, over real HTTP (tests/cli.py)
    return done.stdout + done.stderr


def everything_the_student_reads(submission, people, api, live_server, tmp_path) -> dict[str, str]:
    homework = submission.homework
    student = Client()
    student.force_login(people["student"])
    token = token_for(people["student"])
    views = {
        "API: the submission": api("student").get(f"/api/submissions/{submission.pk}/").content.decode(),
        "API: the homework's submissions":
            api("student").get(f"/api/homeworks/{homework.slug}/submissions/").content.decode(),
        "API: the leaderboard": api("student").get(f"/api/homeworks/{homework.slug}/leaderboard/").content.decode(),
        "page: the homework": student.get(f"/homeworks/{homework.slug}/").content.decode(),
        "page: the leaderboard": student.get(f"/homeworks/{homework.slug}/leaderboard/").content.decode(),
        "page: diagnostics": student.get(f"/submissions/{submission.pk}/diagnostics/").content.decode(),
        "e-mail": "\n".join(f"{m.subject}\n{m.body}" for m in mail.outbox),
    }
    # The command's every view of a submission: its text views, and --json of the one that carries the
    # most fields (status, submissions and leaderboard --json are the API's answers searched above).
    for args in (("status", str(submission.pk)), ("logs", str(submission.pk)), ("submissions",),
                 ("--json", "logs", str(submission.pk)), ("leaderboard",)):
        views["basin " + " ".join(args)] = cli(live_server, token, homework, tmp_path, *args)
    # Pages and JSON escape what they carry: search what a reader's browser or parser gets back, too.
    for name, text in list(views.items()):
        views[name + " (as read)"] = "\n".join(_strings(text))
    return views


def _strings(text: str) -> list[str]:
    """The text as its reader gets it: a JSON document's strings, or a page with its entities resolved
    and its embedded JSON (json_script) decoded."""
    try:
        documents = [json.loads(text)]
    except ValueError:
        page = html.unescape(text)
        documents = [page]
        for block in page.split('type="application/json">')[1:]:
            try:
                documents.append(json.loads(block.split("</script>")[0]))
            except ValueError:
                pass
    found = []

    def walk(value):
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
    for document in documents:
        walk(document)
    return found


@pytest.mark.parametrize("attack, sandbox", ATTACKS)
def test_no_hidden_image_reaches_a_student_through_any_field(attack, sandbox, homework, people, api, live_server,
                                                             hidden, tmp_path, settings):
    if sandbox == "docker":
        services.require("docker")
    settings.BASIN_SANDBOX_BACKEND = sandbox
    submission = graded(homework, people["student"], hostile_models.ALL[attack])
    assert submission.verdict == EXPECTED[attack], (submission.message, submission.log_tail, submission.hidden_log)

    for where, text in everything_the_student_reads(submission, people, api, live_server, tmp_path).items():
        assert not hidden.leaks(text), f"hidden images reached the student through {where}: {hidden.leaks(text)}"

    if EXPECTED[attack] != SCORED:  # a fixed sentence, with at most a built-in name and a line of model.py
        assert submission.message.startswith(HIDDEN_PASS_MESSAGES[submission.verdict])
    if attack == "raises":
        line = next(i for i, text in enumerate(hostile_models.RAISES.splitlines(), 1) if "raise ValueError" in text)
        assert submission.message == (f"{HIDDEN_PASS_MESSAGES[RUNTIME_ERROR]} It was a ValueError, "
                                      f"raised at model.py line {line}.")
    if attack == "named exception":  # a class of its own goes unnamed: its name is text the model chose
        assert "It was a" not in submission.message and "model.py line" in submission.message

    # The course's TAs read the hidden pass's log (where the course lets them), and the planted
    # images are in it: the attack ran, and the search finds what it wrote.
    staff_view = api("ta").get(f"/api/submissions/{submission.pk}/").json()
    if attack in ("prints", "raises"):
        assert {leak.form for leak in hidden.leaks(staff_view["hidden_log"])} >= {"hex", "base64", "base85"}
    if attack == "claims":  # its message, kept to its first 2,000 characters
        assert hidden.leaks(staff_view["hidden_log"])
    Course.objects.filter(pk=homework.course_id).update(hidden_log_readers=Course.HiddenLogReaders.NOBODY)
    assert api("ta").get(f"/api/submissions/{submission.pk}/").json()["hidden_log"] is None


def test_a_rehearsal_failure_is_the_students_to_read_in_full(homework, people):
    submission = graded(homework, people["student"], factories.RAISES_IN_BUILD)
    assert submission.verdict == RUNTIME_ERROR
    assert "my model is broken" in submission.message and "my model is broken" in submission.log_tail
    assert "Traceback" in submission.log_tail and submission.hidden_log == ""  # the hidden pass never ran


def _numbers(value, path=""):
    if isinstance(value, float):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{path}[{i}]")


def test_numbers_computed_from_hidden_images_reach_a_student_only_as_a_rounded_summary(homework, people, api, hidden):
    """Numbers are a channel too: the model sets each bin's mean confidence to two bytes of a
    hidden image. Before the reveal a student reads no diagram, and every number of the hidden
    split at most to four decimals; the TAs' full view carries the bytes (the attack ran)."""
    submission = graded(homework, people["student"], hostile_models.CONFIDENCES)
    assert submission.verdict == SCORED, (submission.message, submission.log_tail)
    staff = api("ta").get(f"/api/submissions/{submission.pk}/").json()["diagnostics"]
    assert hidden.leaks(hostile_models.confidences_bytes(staff["public"]["calibration"]["reliability"]))

    student = api("student").get(f"/api/submissions/{submission.pk}/").json()["diagnostics"]
    assert student["detail_after_reveal"] is True and "reliability" not in student["public"]["calibration"]
    client = Client()
    client.force_login(people["student"])
    page = client.get(f"/submissions/{submission.pk}/diagnostics/").content.decode()
    charts = json.loads(
        html.unescape(page).split('id="diagnostics-data" type="application/json">')[1].split("</script>")[0])
    shown = [{"diagnostics": student, "scores": {}}, *charts.values()]
    for part in shown:
        hidden_split = {k: v for k, v in part["diagnostics"].items() if k != "model"}
        hidden_split["scores"] = part["scores"]
        numbers = list(_numbers(hidden_split))
        assert numbers  # the summary is there
        for where, number in numbers:
            assert round(number, 4) == number, f"{where} = {number!r} is shown to the student in full"
