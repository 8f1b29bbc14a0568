"""The starter notebook, executed end to end with nbclient (SMALL on) against a live Basin on
loopback: it downloads the data, trains, exports, checks, submits, and its submission is scored."""
from __future__ import annotations

import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from .live import LivePlatform, base_env, local_sandbox

NOTEBOOK = Path(__file__).resolve().parents[2] / "starter_kit" / "starter.ipynb"


def test_the_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)
    assert code[0].source.splitlines()[2] == "SMALL = True"  # the switch at the top


def test_the_starter_notebook_runs_end_to_end_against_a_live_basin(tmp_path, monkeypatch):
    env = base_env(tmp_path / "data") | {"BASIN_SANDBOX_BACKEND": local_sandbox()}
    live = LivePlatform(env, tmp_path)
    live.seed()
    try:
        live.start_web()
        live.start_worker()
        live.create_homework("nb", diagnostics_enabled=False)
        student = live.token("student")
        # What `basin login` would have saved, given to the kernel as environment variables.
        monkeypatch.setenv("BASIN_URL", live.base)
        monkeypatch.setenv("BASIN_TOKEN", student["Authorization"].split()[1])
        monkeypatch.setenv("BASIN_HOMEWORK", "nb")
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
        workdir = tmp_path / "student"
        workdir.mkdir()
        nb = nbformat.read(NOTEBOOK, as_version=4)
        started = time.monotonic()
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()
        seconds = time.monotonic() - started
        outputs = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)
        assert "loads as the grader loads it" in outputs  # basin check
        assert "public accuracy" in outputs  # basin submit --wait printed a scored submission
        rows = live.http.get(f"{live.base}/api/homeworks/nb/submissions/", headers=student, timeout=10).json()
        assert [(r["status"], r["note"]) for r in rows] == [("scored", "starter notebook")], (rows, live.tails())
        assert (workdir / "data" / "train" / "images.npy").exists() and not (workdir / "data" / "test").exists()
        print(f"starter notebook: {seconds:.0f} s end to end with SMALL on (grading included)")
        assert seconds < 240, seconds  # SMALL is for a quick look on a CPU: about two minutes, loaded CI included
    finally:
        live.stop()
