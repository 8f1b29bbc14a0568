"""A student with nothing but the course's address and a bare Python with PyTorch (preinstalled, as
Colab has it) and Jupyter: the homework page, the notebook downloaded over HTTP and executed
unchanged (SMALL), which installs Basin's student toolkit from <server>/simple/, and a submission
that gets scored."""
from __future__ import annotations

import json
import re
import shutil
import time

import nbformat
import pytest

from basin.demo.services import LOGINS
from basin.toolkit.wheel import current_version
from tests import run_once

from .live import LivePlatform, base_env, local_sandbox
from .student_machine import JUPYTER, TORCH, BareVenv, browser_session, preinstalled_layer

EXECUTE = '''
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
try:
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
finally:
    nbformat.write(nb, sys.argv[3])
'''


NAME = "test_the_notebook_downloaded_over_http_runs_unchanged_in_a_bare_environment"
JOB = "bare-student-venv"


def _machine() -> BareVenv:
    return BareVenv(run_once.run_dir() / JOB)  # the same folder in every process of the run


def start_if_selected(items) -> None:
    """A new venv with Jupyter installed, and PyTorch preinstalled as Colab has it (on its path, not
    copied): it starts when the session is collected and goes on beside the other tests
    (tests/conftest.py); the test waits for it. Once per run, whichever process collects it first
    (tests/run_once.py)."""
    if run_once.started(JOB) or not any(item.name == NAME for item in items):
        return
    # Made once, under a lock (both test processes collect at the same time), before the claim below.
    torch_layer = run_once.made("preinstalled-torch", lambda folder: preinstalled_layer(folder, TORCH))
    machine = _machine()
    machine.root.mkdir(exist_ok=True)
    run_once.start(JOB, ["/bin/sh", "-c", machine.install_script(JUPYTER, preinstalled=torch_layer)])


@pytest.fixture
def bare_torch():
    started = time.monotonic()
    start_if_selected([type("Item", (), {"name": NAME})()])  # selected some other way than the collection
    status, log = run_once.wait(JOB, timeout=1800)
    assert status == 0, log[-4000:]
    print(f"bare venv with Jupyter and a preinstalled torch: waited {time.monotonic() - started:.0f} s for it")
    machine = _machine()
    yield machine
    shutil.rmtree(machine.root, ignore_errors=True)


def test_the_notebook_downloaded_over_http_runs_unchanged_in_a_bare_environment(bare_torch, tmp_path):
    steps: dict[str, float] = {}
    clock = time.monotonic()

    def step(name: str) -> None:
        nonlocal clock
        steps[name] = time.monotonic() - clock
        clock = time.monotonic()

    machine = bare_torch
    assert machine.python("import basin_cli").returncode != 0  # nothing of Basin's before the notebook
    live = LivePlatform(base_env(tmp_path / "data") | {"BASIN_SANDBOX_BACKEND": local_sandbox()}, tmp_path)
    live.seed()
    try:
        live.start_web()
        live.start_worker()
        live.create_homework("nb", diagnostics_enabled=False)
        step("a live Basin")
        browser = browser_session(live.base, *LOGINS["student"])
        page = browser.get(f"{live.base}/homeworks/nb/", timeout=10)
        assert page.status_code == 200 and "Get started" in page.text
        download = browser.get(f"{live.base}/homeworks/nb/starter.ipynb", timeout=10)
        assert download.status_code == 200
        notebook = tmp_path / "nb-starter.ipynb"
        notebook.write_bytes(download.content)
        token = live.token("student")["Authorization"].split()[1]
        step("the homework page and the notebook over HTTP")

        work = machine.root / "home" / "homework"
        work.mkdir()
        (machine.root / "execute.py").write_text(EXECUTE)
        executed = tmp_path / "executed.ipynb"
        run = machine.run(machine.bin / "python", machine.root / "execute.py", notebook, work, executed,
                          timeout=1500, BASIN_TOKEN=token)
        step("the notebook, executed (install, data, training, check, submit --wait)")
        outputs = "".join(out.get("text", "") + json.dumps(out.get("data", {})) + "".join(out.get("traceback", []))
                          for cell in nbformat.read(executed, as_version=4).cells if cell.cell_type == "code"
                          for out in cell.outputs) if executed.exists() else ""
        assert run.returncode == 0, run.stderr[-4000:] + outputs[-4000:] + live.tails()
        assert f"Logged in to {live.base} as student with your token" in outputs  # checked before the work
        assert outputs.count("loads as the grader loads it") == 2, outputs  # the bundle and the .pt2
        assert "public accuracy" in outputs  # basin submit --wait printed a scored submission

        # The toolkit came from this server's index: its own build (a local version no other index
        # can hold), fetched from /simple/, and installed into the bare environment.
        wheel = f"basin_toolkit-{current_version()}-py3-none-any.whl"
        web_log = (tmp_path / "web.log").read_text(errors="replace")
        assert re.search(rf"INFO basin.toolkit.views: student toolkit {re.escape(wheel)} downloaded by 'pip/",
                         web_log), web_log[-3000:]
        where = machine.python("import basin_cli, dmnist; print(basin_cli.__version__); print(basin_cli.__file__); "
                               "print(dmnist.__file__)").stdout.split()
        assert where[0] == current_version() and all(str(machine.root / "venv") in path for path in where[1:])
        assert machine.python("import dmnist.build").returncode != 0  # never the generator

        rows = live.http.get(f"{live.base}/api/homeworks/nb/submissions/", headers={"Authorization": f"Token {token}"},
                             timeout=10).json()
        assert [(r["status"], r["note"]) for r in rows] == [("scored", "starter notebook")], (rows, live.tails())
        assert (work / "data" / "train" / "images.npy").exists() and not (work / "data" / "test").exists()
        print("from a bare machine: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in steps.items()))
    finally:
        live.stop()
