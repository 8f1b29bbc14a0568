"""`python -m basin_grader evaluate --submission FILE --data DATASET_DIR --out DIR [--backend ...]
[--diagnostics off|cpu|gpu] [--diagnostics-budget JSON]`

Runs one evaluation exactly as a grading worker would (the scoring run, then for a scored
submission the diagnostics run, whose report is diagnostics.model) and prints one JSON result.
Exit status 0 whenever a verdict was reached (a student's failure included); 2 on bad arguments;
3 when the grader itself failed (no Docker engine, no image).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from .budgets import BudgetError, resolve_budget
from .evaluate import DIAGNOSTICS, diagnose_in_sandbox, evaluate
from .sandbox import BACKENDS, DEFAULT_IMAGE, SandboxLimits, get_backend
from .sandbox_diagnostics import add_test_gaps
from .verdicts import SCORED, InfrastructureError


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not JSON ({e}); write it like '{{\"grid\": 5}}'") from e
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object of settings, like '{\"grid\": 5}'")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m basin_grader", description="Basin's grader, outside the platform.")
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="evaluate one submission against a dataset version")
    ev.add_argument("--submission", type=Path, required=True, help="a bundle (.zip) or a torch.export program (.pt2)")
    ev.add_argument("--data", type=Path, required=True, help="a dataset version directory (python -m dmnist build)")
    ev.add_argument("--out", type=Path, default=None, help="working directory to keep (default: a temporary one)")
    ev.add_argument("--backend", choices=BACKENDS, default="auto")
    ev.add_argument("--image", default=DEFAULT_IMAGE, help="sandbox image for the docker backend")
    ev.add_argument("--time-limit", type=float, default=SandboxLimits.wall_seconds, help="seconds")
    ev.add_argument("--memory-mb", type=int, default=SandboxLimits.memory_mb)
    ev.add_argument("--diagnostics", choices=DIAGNOSTICS, default="cpu",
                    help="diagnostics to compute after scoring, with the budget of this device (default: cpu)")
    ev.add_argument("--diagnostics-budget", type=_json_object, default={}, metavar="JSON",
                    help='overrides of the device\'s default budget, e.g. \'{"grid": 5, "samples": 64}\'')
    args = parser.parse_args(argv)
    budget = None
    if args.diagnostics != "off":
        try:
            budget = resolve_budget(args.diagnostics, args.diagnostics_budget)
        except BudgetError as e:
            print(f"basin_grader: {e}", file=sys.stderr)
            return 2

    for path, what in ((args.submission, "submission file"), (args.data, "dataset directory")):
        if not path.exists():
            print(f"basin_grader: no {what} at {path}", file=sys.stderr)
            return 2
    limits = SandboxLimits(wall_seconds=args.time_limit, memory_mb=args.memory_mb)
    try:
        backend = get_backend(args.backend, image=args.image)
        with tempfile.TemporaryDirectory(prefix="basin-eval-") as tmp:
            workdir = (args.out or Path(tmp)) / "attempt"
            result = evaluate(args.submission.resolve(), args.data.resolve(), workdir.resolve(), backend, limits,
                              diagnostics=args.diagnostics)
            if budget is not None and result.verdict == SCORED:
                report = diagnose_in_sandbox(args.submission.resolve(), args.data.resolve(), workdir.resolve(), backend,
                                             budget, limits)
                result.diagnostics["model"] = add_test_gaps(report, result.scores)
    except InfrastructureError as e:
        print(f"basin_grader: the grader failed, not the submission: {e}", file=sys.stderr)
        return 3
    json.dump(result.to_dict(), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
