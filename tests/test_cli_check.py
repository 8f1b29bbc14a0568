"""`basin check`: the grader's loading step and a probe batch, locally, with the grader's messages."""
from __future__ import annotations

import json

import torch

from tests import factories
from tests.cli import run_basin


def check(path, *flags):
    return run_basin([*flags, "check", path], env={"PATH": "/usr/bin:/bin", "HOME": str(path.parent)})


def test_a_good_bundle_and_a_torch_export_program_pass(tmp_path):
    from basin.demo import baseline_model

    done = check(factories.write(tmp_path / "good.zip", factories.bundle()), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) | {"seconds": 0} == {"file": str(tmp_path / "good.zip"), "kind": "bundle",
                                                         "probe_images": 8, "logits_shape": [8, 10], "seconds": 0}
    model = baseline_model.build_model().eval()
    batch = torch.export.Dim("batch", min=1, max=4096)
    torch.export.save(torch.export.export(model, (torch.zeros(2, 3, 64, 64),), dynamic_shapes=({0: batch},)),
                      str(tmp_path / "model.pt2"))
    exported = check(tmp_path / "model.pt2")
    assert exported.returncode == 0 and "Submit it with `basin submit`" in exported.stdout, exported.stderr


def test_broken_checkpoints_get_the_graders_verdict_in_one_line(tmp_path):
    state = {k: v for k, v in factories.baseline_state().items() if k != "head.bias"}
    cases = {
        "missing.zip": (factories.bundle(state=state), "missing: head.bias"),
        "shape.zip": (factories.bundle(model_source=factories.BASELINE_SOURCE + "\n_build = build_model\n"
                                       "def build_model():\n    m = _build()\n"
                                       "    m.register_forward_hook(lambda mod, inp, out: out[:, :7])\n    return m\n"),
                      "it must return logits of shape"),
        "raises.zip": (factories.bundle(model_source=factories.RAISES_IN_BUILD), "my model is broken"),
    }
    buf = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), buf)
    cases["module.pt"] = (buf.read_bytes(), "torch.save(model)")
    for name, (data, expected) in cases.items():
        done = check(factories.write(tmp_path / name, data))
        assert done.returncode == 5, (name, done.stdout, done.stderr)
        assert expected in done.stderr and "would be refused" in done.stderr, (name, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, (name, done.stderr)
    assert check(tmp_path / "nope.zip").returncode == 2
