"""What reading a hostile diagnostics report costs the worker: peak RSS, measured in fresh processes.

    python bench/diagnostics_report_memory.py [--mib 64] [--profile cpu|gpu]

In one run it writes (a) an honest-sized report (every number of the budget, at its longest) and
(b) a hostile 64 MiB report made of empty lists (3 bytes of JSON, a 56-byte list each: the worst
amplification JSON gives), then reads each in a process of its own with `read_report`, and reads
(b) once more the way the worker did before the cap (`json.loads` of up to 64 MiB). It prints each
process's peak RSS and the ratio of each to the honest read.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

READ = """
import json, resource, sys
from pathlib import Path
from basin_grader.budgets import DEFAULTS
from basin_grader.sandbox_diagnostics import read_report
path, how, profile = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if how == "uncapped":  # the reader before the cap: everything up to 64 MiB parsed
    with open(path, "rb") as f:
        data = f.read((64 << 20) + 1)
    report = json.loads(data)
else:
    report = read_report(path, DEFAULTS[profile])
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def honest(profile: str) -> dict:
    from basin_grader.budgets import DEFAULTS, LINES
    from basin_grader.landscape_summary import axis

    b = DEFAULTS[profile]
    x = -1.2345678901234567e-300
    curve = {"loss": [x] * b.line_points, "accuracy": [x] * b.line_points}
    table = [[x] * b.grid for _ in range(b.grid)]
    metrics = {"loss": x, "accuracy": 0.5, "n": 1}
    return {"device": "cpu", "precision": "fp32", "budget": b.to_dict(), "partial": [], "errors": {}, "timings": {},
            "generalization": {"train": metrics, "val": metrics},
            "features": {"points": [[x, x]] * b.feature_samples, "labels": [9] * b.feature_samples,
                         "explained_variance": [0.5, 0.5]},
            "landscape": {"alphas": axis(b.line_points), "centre": {"train": metrics, "val": metrics},
                          "lines": [{"train": curve, "val": curve} for _ in range(LINES)],
                          "grid": {"alphas": axis(b.grid), "betas": axis(b.grid),
                                   "train": {"loss": table, "accuracy": table},
                                   "val": {"loss": table, "accuracy": table}}},
            "sharpness": {"top_eigenvalue": x, "iterations": 1, "converged": False, "trace": x,
                          "trace_standard_error": 0.0, "probes": 1, "samples": 1}}


def peak_mb(path: Path, how: str, profile: str) -> float:
    done = subprocess.run([sys.executable, "-c", READ, str(path), how, profile], capture_output=True, text=True,
                          check=True)
    _, after = map(int, done.stdout.split())
    return after / 1024  # kilobytes on Linux


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--profile", choices=("cpu", "gpu"), default="gpu")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="basin-bench-report-"))
    fair = folder / "honest.json"
    fair.write_text(json.dumps(honest(args.profile)))
    hostile = folder / "hostile.json"
    count = ((args.mib << 20) - 40) // 3
    hostile.write_bytes(b'{"features": {"points": [' + b"[]," * (count - 1) + b"[]]}}")
    rows = [("honest report, read_report", fair, "capped"), (f"hostile {args.mib} MiB, read_report", hostile, "capped"),
            (f"hostile {args.mib} MiB, uncapped json.loads (before)", hostile, "uncapped")]
    from basin_grader.budgets import DEFAULTS
    from basin_grader.sandbox_diagnostics import max_report_bytes

    print(f"budget {args.profile}: report cap {max_report_bytes(DEFAULTS[args.profile]):,} bytes; "
          f"honest report {fair.stat().st_size:,} bytes")
    base = None
    for name, path, how in rows:
        mb = peak_mb(path, how, args.profile)
        base = base or mb
        print(f"{name:50s} peak RSS {mb:8.1f} MB  ×{mb / base:.2f}")


if __name__ == "__main__":
    main()
