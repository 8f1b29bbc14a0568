"""Submission files for tests, built the way students build them."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save as save_safetensors

from basin.demo import baseline_model
from basin_grader import dataset_layout as layout
from basin_grader.runtime.predict import predict_logits

BASELINE_SOURCE = Path(baseline_model.__file__).read_text()
# A diagnostics budget a test can afford on two CPU cores; the real defaults are basin_grader.budgets.DEFAULTS.
SMALL_BUDGET = {"samples": 32, "grid": 5, "line_points": 5, "eval_samples": 64, "feature_samples": 32,
                "power_iterations": 5, "hutchinson_probes": 3, "batch_size": 64}


def baseline_state(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return {k: v.contiguous() for k, v in baseline_model.build_model().eval().state_dict().items()}


def bundle(model_source: str = BASELINE_SOURCE, state: dict | None = None, weights_name: str = "weights.safetensors",
           extra: dict[str, bytes] | None = None) -> bytes:
    state = baseline_state() if state is None else state
    if weights_name.endswith(".safetensors"):
        weights = save_safetensors(state)
    else:
        inner = io.BytesIO()
        torch.save(state, inner)
        weights = inner.getvalue()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in {"model.py": model_source, weights_name: weights, **(extra or {})}.items():
            # A fixed timestamp: the same arguments give the same bytes (entries otherwise carry the clock).
            zf.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def baseline(state: dict) -> torch.nn.Module:
    model = baseline_model.build_model()
    model.load_state_dict(state)
    return model.eval()


def model_input(images: np.ndarray) -> np.ndarray:
    from basin_grader.convention import to_model_input

    return to_model_input(images)


def export_program(state: dict, path: Path) -> Path:
    """The baseline with `state` as a torch.export program (.pt2), batch size left free, as the notebook saves it."""
    batch = torch.export.Dim("batch", min=1, max=4096)
    program = torch.export.export(baseline(state), (torch.zeros(2, 3, 64, 64),), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(path))
    return path


def expected_accuracy(dataset: Path, state: dict) -> tuple[float, float]:
    """(public, private) test accuracy of the baseline with `state`, computed in this process."""
    logits = predict_logits(baseline(state), np.load(layout.split_file(dataset, "test", layout.IMAGES)))
    correct = logits.argmax(1) == np.load(layout.split_file(dataset, "test", layout.LABELS))
    private = np.load(layout.split_file(dataset, "test", layout.IS_PRIVATE))
    return float(correct[~private].mean()), float(correct[private].mean())


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# model.py variants for verdict tests: each defines build_model() over the baseline.
RAISES_IN_BUILD = "def build_model():\n    raise ValueError('my model is broken')\n"
SLEEPS_FOREVER = BASELINE_SOURCE + "\nimport time\n_build = build_model\ndef build_model():\n    time.sleep(3600)\n"
WRONG_SHAPE = (BASELINE_SOURCE + "\n_build = build_model\ndef build_model():\n"
               "    m = _build()\n    m.head = nn.Linear(64, 7)\n    return m\n")
MEMORY_BOMB = (BASELINE_SOURCE + "\n_build = build_model\ndef build_model():\n"
               "    hog = [bytearray(64 * 1024 * 1024) for _ in range(1000)]\n    return _build()\n")
