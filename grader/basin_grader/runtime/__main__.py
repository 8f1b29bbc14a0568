"""Entry point inside the sandbox: `python -m basin_grader.runtime --sub /sub --data /data --out /out
[--mode rehearse|score|diagnose]`.

rehearse: writes rehearsal_logits.npy for the public val batch in /data, and result.json.
score: writes <split>_logits.npy for each hidden split found in /data, and result.json.
diagnose: this process becomes the supervisor (basin_grader.runtime.supervisor): the model runs in a
child on the budget and public-label subsets in /data; diagnostics.json, the centre logits and
result.json are written here, once every other process of the run has been ended.
Exit status 0 on success; otherwise result.json says why (the worker double-checks everything).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from ..contract import DIAGNOSE, MODES, OUTPUT_RESULT, REHEARSAL, REHEARSE, SCORE, RunResult, images_name, logits_name
from ..dataset_layout import HIDDEN_SPLITS
from ..verdicts import RUNTIME_ERROR, GradingError

PROBE = 2  # images in the shape check before the real run
SEED = 0
BUNDLE_SOURCE = "model.py"  # the only file of a student's own code (a bundle's), named in error locations


def _write_result(out: Path, payload: RunResult) -> None:
    (out / OUTPUT_RESULT).write_text(json.dumps(payload))


def _seed_everything(torch) -> None:
    """The same submission gives the same logits on every run, so a rescore gives the same score:
    fixed seeds (a build_model() that draws random weights before loading them, or keeps dropout
    on) and deterministic kernels where PyTorch has them (warn_only: an op without one still runs)."""
    import random

    import numpy as np

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)  # every device's generator, CUDA's too
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def run(sub: Path, data: Path, out: Path, batch_size: int, mode: str = SCORE) -> RunResult:
    started = time.monotonic()
    if mode == DIAGNOSE:  # the model runs in a child; this process supervises it and writes the report
        return _diagnose(sub, data, out, started)
    import numpy as np
    import torch

    from .loading import load_model
    from .predict import predict_logits

    torch.set_num_threads(int(os.environ.get("BASIN_THREADS", "1")))
    _seed_everything(torch)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    files = sorted(p for p in sub.iterdir() if p.is_file())
    if len(files) != 1:
        raise GradingError(RUNTIME_ERROR, f"expected one submission file in {sub}, found {len(files)}")
    timings = {}
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        model = load_model(files[0], Path(scratch)).to(device)
        timings["load_s"] = time.perf_counter() - t
        names = (REHEARSAL,) if mode == REHEARSE else HIDDEN_SPLITS
        inputs = {s: np.load(data / images_name(s), allow_pickle=False) for s in names
                  if (data / images_name(s)).exists()}
        if not inputs:
            raise GradingError(RUNTIME_ERROR, f"no images to predict in {data}")  # the worker makes sure there are
        probe = next(iter(inputs.values()))[:PROBE]
        predict_logits(model, probe, batch_size=PROBE, device=device)  # fails fast on a wrong shape
        t = time.perf_counter()
        for split, images in inputs.items():
            np.save(out / logits_name(split), predict_logits(model, images, batch_size, device), allow_pickle=False)
        timings["inference_s"] = time.perf_counter() - t
    return {"status": "ok", "device": device, "timings": timings}


def _diagnose(sub: Path, data: Path, out: Path, started: float) -> RunResult:
    from .supervisor import supervise

    return supervise(sub, data, out, started)


def _line_in_student_code(tb) -> int | None:
    """The line of the innermost frame in the bundle's model.py, if the error passed through it."""
    line = None
    while tb is not None:
        source = Path(tb.tb_frame.f_code.co_filename)
        if source.name == BUNDLE_SOURCE and "bundle" in source.parts:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m basin_grader.runtime")
    parser.add_argument("--sub", type=Path, default=Path("/sub"))
    parser.add_argument("--data", type=Path, default=Path("/data"))
    parser.add_argument("--out", type=Path, default=Path("/out"))
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--mode", choices=MODES, default=SCORE)
    args = parser.parse_args(argv)
    result: RunResult
    try:
        result = run(args.sub, args.data, args.out, args.batch_size, args.mode)
    except GradingError as e:
        result = {"status": "error", "verdict": e.verdict, "message": e.message}
    except MemoryError:
        traceback.print_exc()
        result = {"status": "error", "verdict": RUNTIME_ERROR, "message": "Your model ran out of memory (MemoryError).",
                  "error_type": "MemoryError"}
    except Exception as e:
        # A rehearsal's traceback and message are the student's; a hidden pass's reach only the
        # course staff, and the student reads a fixed sentence with at most error_type and
        # error_line (basin_grader.evaluate checks both).
        traceback.print_exc()
        out_of_memory = "can't allocate memory" in str(e) or "out of memory" in str(e)
        result = {"status": "error", "verdict": RUNTIME_ERROR, "message": f"{type(e).__name__}: {e}"[:2000],
                  "error_type": type(e).__name__, "error_line": _line_in_student_code(e.__traceback__)}
        if out_of_memory:  # the worker decides a memory verdict from what it observed; this only says why
            result["message"] = "Your model ran out of memory: " + result["message"]
    _write_result(args.out, result)
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())

