"""Entry point inside the sandbox: `python -m basin_grader.runtime --sub /sub --data /data --out /out
[--mode score|diagnose]`.

score: writes <split>_logits.npy for each hidden split found in /data, and result.json.
diagnose: reads the budget and public-label subsets from /data, writes diagnostics.json (rewritten
after each part, so a run cut short keeps what it finished) and result.json.
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

from ..dataset_layout import HIDDEN_SPLITS
from ..verdicts import MEMORY_LIMIT, RUNTIME_ERROR, GradingError
from . import BUDGET, DIAGNOSE, MODES, OUTPUT_DIAGNOSTICS, OUTPUT_RESULT, SCORE, images_name, logits_name

PROBE = 2  # images in the shape check before the real run


def _write_result(out: Path, payload: dict) -> None:
    (out / OUTPUT_RESULT).write_text(json.dumps(payload))


def run(sub: Path, data: Path, out: Path, batch_size: int, mode: str = SCORE) -> dict:
    started = time.monotonic()
    if mode == DIAGNOSE:  # the model runs in a child; this process supervises it and writes the report
        return _diagnose(sub, data, out, started)
    import numpy as np
    import torch

    from .loading import load_model
    from .predict import predict_logits

    torch.set_num_threads(int(os.environ.get("BASIN_THREADS", "1")))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    files = sorted(p for p in sub.iterdir() if p.is_file())
    if len(files) != 1:
        raise GradingError(RUNTIME_ERROR, f"expected one submission file in {sub}, found {len(files)}")
    timings = {}
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        model = load_model(files[0], Path(scratch)).to(device)
        timings["load_s"] = time.perf_counter() - t
        inputs = {s: np.load(data / images_name(s), allow_pickle=False) for s in HIDDEN_SPLITS if (data / images_name(s)).exists()}
        probe = next(iter(inputs.values()))[:PROBE]
        predict_logits(model, probe, batch_size=PROBE, device=device)  # fails fast on a wrong shape
        t = time.perf_counter()
        for split, images in inputs.items():
            np.save(out / logits_name(split), predict_logits(model, images, batch_size, device), allow_pickle=False)
        timings["inference_s"] = time.perf_counter() - t
    return {"status": "ok", "device": device, "timings": timings}


def _diagnose(sub: Path, data: Path, out: Path, started: float) -> dict:
    from .supervisor import supervise

    return supervise(sub, data, out, started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m basin_grader.runtime")
    parser.add_argument("--sub", type=Path, default=Path("/sub"))
    parser.add_argument("--data", type=Path, default=Path("/data"))
    parser.add_argument("--out", type=Path, default=Path("/out"))
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--mode", choices=MODES, default=SCORE)
    args = parser.parse_args(argv)
    try:
        result = run(args.sub, args.data, args.out, args.batch_size, args.mode)
    except GradingError as e:
        result = {"status": "error", "verdict": e.verdict, "message": e.message}
    except MemoryError:
        traceback.print_exc()
        result = {"status": "error", "verdict": MEMORY_LIMIT, "message": "Your model ran out of memory."}
    except Exception as e:
        traceback.print_exc()  # the student's traceback goes to the log tail they are shown
        verdict = MEMORY_LIMIT if "can't allocate memory" in str(e) or "out of memory" in str(e) else RUNTIME_ERROR
        result = {"status": "error", "verdict": verdict, "message": f"{type(e).__name__}: {e}"[:2000]}
    _write_result(args.out, result)
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())

