"""`basin check`: the sandbox's own loading step and a probe forward pass, run on the student's
machine for the student's own file, so a broken checkpoint is caught before it costs a submission.
(Loading runs the file's model.py: that is fine here, it is the student's own code.)"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from .formats import inspect_submission
from .verdicts import INVALID_OUTPUT, RUNTIME_ERROR, GradingError

PROBE_IMAGES = 8
PROBE_BATCH = 5


def check_submission(path: Path) -> dict:
    """What the grader would do before predicting: the web's checks, loading, a probe batch.
    Raises GradingError with the grader's own verdict and message."""
    from .runtime.loading import load_model
    from .runtime.predict import predict_logits

    started = time.perf_counter()
    with open(path, "rb") as f:
        info = inspect_submission(f, path.name)
    with tempfile.TemporaryDirectory(prefix="basin-check-") as scratch:
        try:
            model = load_model(path, Path(scratch))
            images = np.random.default_rng(0).integers(0, 256, (PROBE_IMAGES, 64, 64, 3), dtype=np.uint8)
            # Two batch sizes (5, then 3), as the grader's last batch is smaller than the others.
            logits = predict_logits(model, images, batch_size=PROBE_BATCH)
        except GradingError:
            raise
        except Exception as e:  # the submission's own code failed: the sandbox says runtime_error, as here
            raise GradingError(RUNTIME_ERROR, f"{type(e).__name__}: {e}"[:2000]) from e
    if not np.isfinite(logits).all():
        raise GradingError(INVALID_OUTPUT, "The model's logits on the probe images are NaN or infinite.")
    return {"file": str(path), "kind": info.kind, "probe_images": PROBE_IMAGES, "logits_shape": list(logits.shape),
            "seconds": round(time.perf_counter() - started, 3)}
