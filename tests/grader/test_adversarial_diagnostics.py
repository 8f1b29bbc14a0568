"""Hostile submissions against the diagnostics run: a model that forges its report.

Two kinds of forgery. A model that rewrites /out/diagnostics.json (from an atexit hook, a forked
daemon, or after stopping or killing its supervisor) must never get its file read: the supervisor
writes the report after ending every process of the run, and a run whose supervisor did not finish
is discarded. A model that lies through the runtime itself (its numbers are the model's own) must
fail the worker's checks: device, counts, labels, centres, the centre logits the worker scores
itself, the sharpness against the lines. Each runs on both sandbox backends.
"""
from __future__ import annotations

import json
import os
import textwrap

import pytest

from basin_grader.budgets import resolve_budget
from basin_grader.evaluate import diagnose_in_sandbox
from basin_grader.sandbox import get_backend
from tests import factories, services
from tests.grader.test_adversarial import before_build

BUDGET = resolve_budget("cpu", {**factories.SMALL_BUDGET, "time_limit_s": 60})
MARK = "forged-by-the-model"

# Where the run's /out is: the container's, or beside --data in a process-backend run.
OUT = ("import os, sys\n"
       "out = '/out' if os.path.isdir('/out') else "
       "os.path.join(os.path.dirname(sys.argv[sys.argv.index('--data') + 1]), 'out')\n")

# A report as a forger would like it: complete, on a GPU, flat as a pancake.
FORGED = json.dumps({"device": "cuda", "precision": "bf16", "memory_format": "plain", "partial": [],
                     "errors": {MARK: MARK},
                     "sharpness": {"top_eigenvalue": 0.0, "iterations": 1, "converged": True, "trace": 0.0,
                                   "trace_standard_error": 0.0, "probes": 1, "samples": 1, "split": "train"}})
WRITE_FORGED = OUT + f"for name in ('diagnostics.json', 'result.json'):\n" \
                     f"    try:\n        open(os.path.join(out, name), 'w').write({FORGED!r} if name[0] == 'd' else " \
                     "'{\"status\": \"ok\", \"supervised\": true}')\n    except OSError:\n        pass\n"


def forging(body: str) -> str:
    """model.py whose build_model() changes every report the runtime sends, with `body` on `report`."""
    return before_build("import basin_grader.runtime.diagnostics as _d\n_finite = _d._finite\n"
                        "def _forge(value):\n    value = _finite(value)\n"
                        "    if isinstance(value, dict) and 'seeds' in value:\n"
                        "        report = value\n" + textwrap.indent(textwrap.dedent(body), "        ")
                        + "\n    return value\n_d._finite = _forge")


AT_EXIT = before_build("import atexit\ndef _late():\n" + textwrap.indent(WRITE_FORGED, "    ")
                       + "\natexit.register(_late)")
# A daemon that leaves the model's process and session and rewrites the report again and again.
DAEMON = before_build("import os, sys, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                      "        open(os.path.join(os.environ.get('TMPDIR', '/tmp'), 'daemon.pid'), 'w')"
                      ".write(str(os.getpid()))\n"
                      "        while True:\n" + textwrap.indent(WRITE_FORGED, "            ")
                      + "\n            time.sleep(0.005)\n    os._exit(0)\nos.wait()")
STOP_SUPERVISOR = before_build(WRITE_FORGED + "import signal\nos.kill(os.getppid(), signal.SIGSTOP)\nos._exit(0)")
KILL_SUPERVISOR = before_build(WRITE_FORGED + "import signal\nos.kill(os.getppid(), signal.SIGKILL)\nos._exit(0)")


def run(backend_name: str, source: str, tmp_path, dataset, budget=BUDGET) -> dict:
    submission = factories.write(tmp_path / "m.zip", factories.bundle(model_source=source))
    return diagnose_in_sandbox(submission, dataset, tmp_path / "attempt", get_backend(backend_name), budget)


@pytest.fixture(params=["docker", "process"])
def backend_name(request):
    if request.param == "docker":
        services.require("docker")
    return request.param


def test_an_honest_run_is_trusted_on_both_backends(backend_name, tmp_path, tiny_dataset):
    report = run(backend_name, factories.BASELINE_SOURCE, tmp_path, tiny_dataset)
    assert report["trust"] == {"trusted": True, "failed": {}}, report["trust"]
    assert report["status"] == "complete" and report["device"] == "cpu"


@pytest.mark.parametrize("source", [AT_EXIT, DAEMON], ids=["atexit hook", "forked daemon"])
def test_a_report_rewritten_after_the_model_ran_never_lands(backend_name, source, tmp_path, tiny_dataset):
    report = run(backend_name, source, tmp_path, tiny_dataset)
    assert MARK not in json.dumps(report)
    assert report["trust"]["trusted"] and report["device"] == "cpu" and report["sharpness"]["samples"] == BUDGET.samples
    pid_file = tmp_path / "attempt" / "scratch" / "tmp" / "daemon.pid"
    if pid_file.exists():  # the process backend: the daemon left its session, and was ended all the same
        pid = int(pid_file.read_text())
        state = open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] if os.path.exists(f"/proc/{pid}") else "gone"
        assert state in ("gone", "Z"), f"the model's daemon {pid} outlived its run ({state})"
    written = (tmp_path / "attempt" / "out" / "diagnostics.json").read_text()
    assert MARK not in written and json.loads(written)["device"] == "cpu"


@pytest.mark.parametrize("source", [STOP_SUPERVISOR, KILL_SUPERVISOR], ids=["stopped", "killed"])
def test_a_model_that_stops_or_kills_its_supervisor_gets_nothing_read(backend_name, source, tmp_path, tiny_dataset):
    budget = resolve_budget("cpu", {**factories.SMALL_BUDGET, "time_limit_s": 12})
    report = run(backend_name, source, tmp_path, tiny_dataset, budget)
    assert MARK not in json.dumps(report)
    assert not report["trust"]["trusted"] and "run" in report["trust"]["failed"]
    assert report["partial"] == ["generalization", "features", "lines", "sharpness", "grid"]
    assert "sharpness" not in report and "landscape" not in report


LIES = [
    ("claims cuda", "report['device'], report['precision'] = 'cuda', 'bf16'", {"device", "precision"}),
    ("wrong sample count", "if 'generalization' in report:\n    report['generalization']['val']['n'] = 63",
     {"generalization_val"}),
    ("wrong feature labels", "if 'features' in report:\n"
                             "    report['features']['labels'] = [(v + 1) % 10 for v in report['features']['labels']]",
     {"feature_labels"}),
    ("line centres contradict the centre loss",
     "for line in report.get('landscape', {}).get('lines', []):\n"
     "    for split in ('train', 'val'):\n        line[split]['loss'][len(line[split]['loss']) // 2] = 0.0",
     {"line_centre"}),
    ("grid centre contradicts the centre loss",
     "grid = report.get('landscape', {}).get('grid')\nif grid:\n    c = len(grid['alphas']) // 2\n"
     "    grid['train']['loss'][c][c] = grid['train']['loss'][c][c] + 1.0", {"grid_centre"}),
    ("a better val loss than its logits give",
     "if 'generalization' in report:\n    report['generalization']['val'].update(loss=0.01, accuracy=1.0)",
     {"generalization_val"}),
    ("zero sharpness", "if 'sharpness' in report:\n    report['sharpness'].update(top_eigenvalue=0.0, trace=0.0)",
     {"sharpness_zero"}),
    ("another budget", "report['budget'] = dict(report['budget'], grid=3)", {"budget"}),
    ("a grid of another shape", "grid = report.get('landscape', {}).get('grid')\nif grid:\n"
                                "    grid['train']['loss'] = grid['train']['loss'][:-1]", {"grid_shape"}),
]


@pytest.fixture
def either_backend():
    """The worker's checks of a report are the same whichever backend ran it: once, in Docker where it runs."""
    return services.either_sandbox()


@pytest.mark.parametrize("lie, body, failed", LIES, ids=[lie[0] for lie in LIES])
def test_a_report_that_lies_through_the_runtime_fails_its_checks(either_backend, lie, body, failed, tmp_path,
                                                                  tiny_dataset):
    report = run(either_backend, forging(body), tmp_path, tiny_dataset)
    assert not report["trust"]["trusted"] and failed <= set(report["trust"]["failed"]), report["trust"]
    assert report["status"] == "untrusted"


def test_the_honest_landscape_bends_at_its_centre_so_a_zero_sharpness_is_caught(tmp_path, tiny_dataset):
    """The zero-sharpness check needs a line that bends at the centre; the tests' baseline has them."""
    report = run("process", factories.BASELINE_SOURCE, tmp_path, tiny_dataset)
    middle = BUDGET.line_points // 2
    bends = [line["train"]["loss"][middle - 1] + line["train"]["loss"][middle + 1] - 2 * line["train"]["loss"][middle]
             for line in report["landscape"]["lines"]]
    assert max(abs(b) for b in bends) > 1e-3 * (1 + report["landscape"]["centre"]["train"]["loss"]), bends
    assert abs(report["sharpness"]["top_eigenvalue"]) > 1e-6 and report["trust"]["trusted"]


# --- every sandbox output is read with the same guards: the process backend's log too ------------------

@pytest.mark.parametrize("plant", ["fifo", "symlink"])
def test_a_link_or_fifo_in_place_of_the_process_backends_log_neither_hangs_nor_leaks(plant, tmp_path, tiny_dataset):
    """The process backend runs as the worker's user, who owns the scratch folder and its log: a
    model can put something else there. (Docker's log comes from the engine, not a file.)"""
    import threading

    from basin_grader.evaluate import evaluate

    secret = tmp_path / "worker-secret.txt"
    secret.write_text("basin-worker-secret-4e1d")
    swap = ("import os\nlog = os.path.join(os.getcwd(), '..', 'sandbox.log')\nos.remove(log)\n"
            + ("os.mkfifo(log)\n" if plant == "fifo" else f"os.symlink({str(secret)!r}, log)\n"))
    submission = factories.write(tmp_path / "m.zip", factories.bundle(model_source=before_build(swap)))
    found = {}
    worker = threading.Thread(target=lambda: found.update(result=evaluate(
        submission, tiny_dataset, tmp_path / "attempt", get_backend("process"))), daemon=True)
    worker.start()
    worker.join(timeout=300)
    assert not worker.is_alive(), "the worker hung reading the run's log"
    result = found["result"]
    assert result.verdict == "scored" and "basin-worker-secret-4e1d" not in result.log_tail + result.hidden_log


@pytest.mark.parametrize("plant", ["fifo", "symlink", "hard link"])
def test_a_fifo_or_link_planted_in_place_of_the_report_neither_hangs_nor_writes_through(backend_name, plant, tmp_path,
                                                                                         tiny_dataset):
    """In a container /out cannot be changed; on the process backend the supervisor replaces
    whatever stands there by a file of its own, and the worker reads nothing but regular files."""
    target = tmp_path / "worker-file.txt"
    target.write_text("untouched")
    make = {"fifo": "os.mkfifo(path)", "symlink": f"os.symlink({str(target)!r}, path)",
            "hard link": f"os.link({str(target)!r}, path)"}[plant]
    source = before_build("import atexit\ndef _late():\n" + textwrap.indent(
        OUT + f"path = os.path.join(out, 'diagnostics.json')\ntry:\n    os.remove(path)\n    {make}\n"
        "except OSError as e:\n    print('plant refused:', e)", "    ") + "\natexit.register(_late)")
    report = run(backend_name, source, tmp_path, tiny_dataset)
    assert report["trust"]["trusted"] and report["status"] == "complete", report["trust"]
    assert target.read_text() == "untouched"


def test_the_model_cannot_read_or_trace_its_supervisor(backend_name, tmp_path, tiny_dataset):
    """The supervisor is non-dumpable: its /proc/<pid>/mem and ptrace are closed to the same-uid
    child. (On the process backend a worker running as root keeps CAP_SYS_PTRACE: weaker there.)"""
    if backend_name == "process" and os.geteuid() == 0:
        pytest.skip("the process backend runs the model as the worker's user; as root it keeps CAP_SYS_PTRACE")
    probe = before_build(
        "import ctypes, os\nfound = []\ntry:\n    open(f'/proc/{os.getppid()}/mem', 'rb').close()\n"
        "    found.append('mem open')\n"
        "except OSError as e:\n    found.append(f'mem refused {e.errno}')\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "found.append('ptrace attached' if libc.ptrace(16, os.getppid(), 0, 0) == 0 else 'ptrace refused')\n"
        "raise RuntimeError('supervisor: ' + ', '.join(found))")
    report = run(backend_name, probe, tmp_path, tiny_dataset)
    assert "mem refused" in report["errors"]["run"] and "ptrace refused" in report["errors"]["run"], report["errors"]


def test_a_frame_larger_than_the_budget_allows_ends_the_reading_and_the_trust(backend_name, tmp_path, tiny_dataset):
    """The supervisor caps what it reads at what the budget can produce, before buffering it."""
    flood = before_build("import os, sys\nfd = int(sys.argv[sys.argv.index('--pipe') + 1])\n"
                         "os.write(fd, b'R' + (1 << 31).to_bytes(4, 'big') + b'{' * 65536)")
    report = run(backend_name, flood, tmp_path, tiny_dataset)
    assert not report["trust"]["trusted"] and "budget cannot produce" in report["trust"]["failed"]["protocol"]
