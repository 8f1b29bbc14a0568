"""The diagnostics run's child process: loads the student's model, runs the diagnostics and sends
each result to its supervisor (basin_grader.runtime.supervisor) over a pipe. It writes nothing to
/out: the supervisor does, after this process and everything it started have been ended.

`python -m basin_grader.runtime.diagnose_child --sub /sub --data /data --pipe FD --deadline T`
(T: time.monotonic() at which to stop starting new work).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import traceback
from pathlib import Path

from ..contract import BUDGET
from ..verdicts import RUNTIME_ERROR, GradingError
from .supervisor import ERROR, LOGITS_TRAIN, LOGITS_VAL, REPORT, frame


def _send(fd: int, kind: bytes, payload: bytes) -> None:
    data = memoryview(frame(kind, payload))
    while data:
        data = data[os.write(fd, data):]


def run(sub: Path, data: Path, fd: int, deadline: float) -> None:
    import numpy as np
    import torch

    from ..budgets import budget_from_dict
    from .diagnostics import run_diagnostics
    from .loading import load_model

    torch.set_num_threads(int(os.environ.get("BASIN_THREADS", "1")))
    torch.manual_seed(0)  # a rescore gives the same diagnostics
    torch.use_deterministic_algorithms(True, warn_only=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    budget = budget_from_dict(json.loads((data / BUDGET).read_text()))
    files = sorted(p for p in sub.iterdir() if p.is_file())
    if len(files) != 1:
        raise GradingError(RUNTIME_ERROR, f"expected one submission file in {sub}, found {len(files)}")

    def flush(report: dict) -> None:
        _send(fd, REPORT, json.dumps(report, allow_nan=False).encode())

    def send_logits(split: str, logits) -> None:
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(logits, dtype=np.float32), allow_pickle=False)
        _send(fd, LOGITS_TRAIN if split == "train" else LOGITS_VAL, buffer.getvalue())

    with tempfile.TemporaryDirectory() as scratch:
        model = load_model(files[0], Path(scratch)).to(device)
        run_diagnostics(model, data, budget, device, deadline, flush, send_logits)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m basin_grader.runtime.diagnose_child")
    parser.add_argument("--sub", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--pipe", type=int, required=True)
    parser.add_argument("--deadline", type=float, required=True)
    args = parser.parse_args(argv)
    try:
        run(args.sub, args.data, args.pipe, args.deadline)
    except GradingError as e:
        _send(args.pipe, ERROR, e.message.encode("utf-8", "replace"))
        return 1
    except Exception as e:  # the diagnostics see public data only: the student may read all of it
        traceback.print_exc()
        _send(args.pipe, ERROR, f"{type(e).__name__}: {e}"[:2000].encode("utf-8", "replace"))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
