"""What the sandbox costs: one submission graded end to end, against the same inference in-process.

    python bench/grading_overhead.py [--data DATASET_DIR] [--repeat 3] [--backends process,docker]

In one run, on the same model (the demo's baseline CNN) and the same hidden images (test + shift),
it times (a) the baseline: loading the bundle and predicting in this process, one thread, as the
sandbox does with its 1-CPU quota; (b) `basin_grader.evaluate` through each sandbox backend, split
into the public rehearsal (a whole sandbox run of its own on 32 val images, whose log is the
student's), sandbox start-up, model load, inference (as measured inside) and scoring; (c) the grading
worker's own path on the Docker sandbox (or the process one without an engine), from the moment
the submission is queued to the moment its score is stored: claim, copy from storage, sandbox,
scoring, diagnostics, the conditional write. Broker delivery is not in (c): it is the broker's
latency, not the grader's. It prints medians and the ratio of each row's total to (a).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.factories: the same bundles the tests use
BENCH_DATA = Path(tempfile.mkdtemp(prefix="basin-bench-platform-"))
os.environ["BASIN_DATA_DIR"] = str(BENCH_DATA)  # a throwaway Basin (SQLite) for row (c)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basin.settings")

from basin_grader import dataset_layout as layout  # noqa: E402
from basin_grader.evaluate import evaluate  # noqa: E402
from basin_grader.runtime.loading import load_model  # noqa: E402
from basin_grader.runtime.predict import predict_logits  # noqa: E402
from basin_grader.sandbox import SandboxLimits, get_backend  # noqa: E402
from basin_grader.sandbox.docker_backend import docker_available  # noqa: E402
from tests import factories  # noqa: E402


def in_process(bundle: Path, dataset: Path) -> dict:
    torch.set_num_threads(1)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        model = load_model(bundle, Path(scratch))
    loaded = time.perf_counter()
    for split in layout.HIDDEN_SPLITS:
        predict_logits(model, np.load(layout.split_file(dataset, split, layout.IMAGES)), 256)
    done = time.perf_counter()
    return {"load_s": loaded - started, "inference_s": done - loaded, "total_s": done - started}


def sandboxed(backend_name: str, bundle: Path, dataset: Path, work: Path) -> dict:
    started = time.perf_counter()
    result = evaluate(bundle, dataset, work / backend_name, get_backend(backend_name), SandboxLimits(cpus=1.0))
    total = time.perf_counter() - started
    assert result.verdict == "scored", (result.message, result.log_tail)
    t = result.timings
    startup = t["sandbox_s"] - t.get("load_s", 0) - t.get("inference_s", 0)
    return {"rehearsal_s": t["rehearsal_s"], "startup_s": startup, "load_s": t["load_s"],
            "inference_s": t["inference_s"], "scoring_s": t["scoring_s"], "total_s": total}


class PlatformPath:
    """A throwaway Basin with the bench's dataset registered and a homework to submit to."""

    def __init__(self, dataset: Path, backend: str):
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        from basin.courses.services import register_dataset_version
        from basin.demo import services as demo

        call_command("migrate", verbosity=0)
        settings.BASIN_SANDBOX_BACKEND = backend
        settings.BASIN_DIAGNOSTICS = "cpu"
        shutil.copytree(dataset, settings.BASIN_DATASETS_DIR / "bench")
        self.demo = demo.seed(register_dataset_version(slug="bench"))
        self.demo.homework.daily_quota = 1000
        self.demo.homework.save()

    def run(self, bundle: Path) -> dict:
        from django.core.files.uploadedfile import SimpleUploadedFile

        from basin.grading.services import grade
        from basin.submissions.services import submit

        upload = SimpleUploadedFile("baseline.zip", bundle.read_bytes(), content_type="application/zip")
        submission = submit(homework=self.demo.homework, user=self.demo.student, upload=upload,
                            force=True)  # the same file each repeat, on purpose
        grade(submission.runs.get().pk)  # what the Celery task runs, on the run the upload queued
        submission.refresh_from_db()
        assert submission.status == "scored", (submission.message, submission.log_tail)
        run = submission.runs.get(kind="score")
        t = run.timings
        return {"rehearsal_s": t["rehearsal_s"], "startup_s": t["sandbox_s"] - t["load_s"] - t["inference_s"],
                "load_s": t["load_s"],
                "inference_s": t["inference_s"], "scoring_s": t["scoring_s"],
                "total_s": (run.finished_at - submission.created_at).total_seconds()}


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="a dataset version (default: build one with the default test split)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="process,docker")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="basin-bench-") as tmp:
        tmp = Path(tmp)
        dataset = args.data
        if dataset is None:
            from dmnist import build

            dataset = tmp / "dataset"
            print("building a dataset version with the default test (10,000) and shift (2,000) splits ...")
            build(dataset, seed=0, counts={"train": 10, "val": 10, "test": 10_000, "shift": 2_000}, progress=False)
        bundle = factories.write(tmp / "baseline.zip", factories.bundle())
        n = sum(len(np.load(layout.split_file(dataset, s, layout.LABELS), mmap_mode="r")) for s in layout.HIDDEN_SPLITS)
        backends = [b for b in args.backends.split(",") if b != "docker" or docker_available()]
        platform = PlatformPath(dataset, "docker" if docker_available() else "process")
        worker_row = f"worker ({'docker' if docker_available() else 'process'})"
        runs: dict[str, list[dict]] = {"in-process": [], **{name: [] for name in backends}, worker_row: []}
        for _ in range(args.repeat):  # interleaved, so drift on a shared machine hits every row alike
            runs["in-process"].append(in_process(bundle, dataset))
            for name in backends:
                runs[name].append(sandboxed(name, bundle, dataset, tmp))
            runs[worker_row].append(platform.run(bundle))
        rows = {name: median_of(r) for name, r in runs.items()}
    base = rows["in-process"]["total_s"]
    print(f"\nbaseline CNN on {n:,} hidden images, 1 CPU thread, median of {args.repeat} runs, "
          f"torch {torch.__version__}")
    print(f"{'':16}{'rehearsal':>10}{'start-up':>10}{'load':>9}{'inference':>11}{'scoring':>9}{'total':>9}"
          f"{'× in-process':>14}")
    for name, r in rows.items():
        print(f"{name:16}{r.get('rehearsal_s', 0):>9.2f}s{r.get('startup_s', 0):>9.2f}s{r['load_s']:>8.2f}s"
              f"{r['inference_s']:>10.2f}s{r.get('scoring_s', 0):>8.3f}s{r['total_s']:>8.2f}s"
              f"{r['total_s'] / base:>13.2f}×")
    print("worker: queued → scored, as stored by the grading worker's code (claim, copy, sandbox, scoring,")
    print("diagnostics, result write); start-up is the hidden pass's sandbox time outside model load and")
    print("inference; the rehearsal is a whole sandbox run before it (start-up, load, 32 public images)")
    shutil.rmtree(BENCH_DATA, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
