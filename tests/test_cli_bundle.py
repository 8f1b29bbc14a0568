"""`basin bundle` and `save_bundle`: a submission bundle made locally, checked as the server's first
step checks it; each refusal says what to change, with exit 2 and no traceback."""
from __future__ import annotations

import zipfile

import pytest

from basin_cli.bundle import save_bundle
from basin_grader.local_check import check_submission
from tests.cli import run_basin
from tests.factories import BASELINE_SOURCE, baseline, baseline_state, save_safetensors


@pytest.fixture
def basin(tmp_path):
    def run(*args):
        return run_basin(args, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path)})

    (tmp_path / "model.py").write_text(BASELINE_SOURCE)
    (tmp_path / "weights.safetensors").write_bytes(save_safetensors(baseline_state()))
    return run


def test_bundle_zips_model_py_and_the_weights_as_the_grader_loads_them(basin, tmp_path):
    done = basin("bundle", "model.py", "weights.safetensors", "-o", "model.zip")
    assert done.returncode == 0, done.stderr
    size = (tmp_path / "model.zip").stat().st_size
    assert done.stdout == (f"Wrote model.zip ({size:,} bytes). Try it with `basin check model.zip`, then "
                           "`basin submit model.zip`.\n")
    assert zipfile.ZipFile(tmp_path / "model.zip").namelist() == ["model.py", "weights.safetensors"]
    assert check_submission(tmp_path / "model.zip")["kind"] == "bundle"


@pytest.mark.parametrize("args, message", [
    (("nope.py", "weights.safetensors"), "No file at nope.py: pass the path of the model.py that defines "
                                         "build_model()."),
    (("model.py", "weights.safetensors", "-o", "weights.safetensors"),
     "-o weights.safetensors would overwrite an input; write the bundle to another file, e.g. submission.zip."),
    (("model.py", "model.py"), "model.py is not a weights file the grader reads: save model.state_dict() as "
                               ".safetensors (or with torch.save as .pt)."),
])
def test_bundle_refusals_say_what_to_change(basin, args, message):
    done = basin("bundle", *args)
    assert (done.returncode, done.stderr) == (2, f"basin: {message}\n")


def test_a_model_py_without_build_model_or_damaged_weights_is_refused_before_upload(basin, tmp_path):
    (tmp_path / "other.py").write_text("import torch\n")
    done = basin("bundle", "other.py", "weights.safetensors")
    assert done.returncode == 2 and done.stderr.startswith("basin: other.py defines no build_model() at its top level")
    (tmp_path / "broken.safetensors").write_bytes(b"not safetensors at all")
    done = basin("bundle", "model.py", "broken.safetensors")
    assert done.returncode == 2 and done.stderr.startswith("basin: The bundle would be refused: ")
    assert not (tmp_path / "submission.zip").exists()  # nothing half-made is left to submit


def test_save_bundle_from_python_saves_the_weights_of_a_model_on_any_device(tmp_path):
    (tmp_path / "model.py").write_text(BASELINE_SOURCE)
    out = save_bundle(baseline(baseline_state()), tmp_path / "model.py", tmp_path / "submission.zip")
    assert check_submission(out)["logits_shape"] == [8, 10]
