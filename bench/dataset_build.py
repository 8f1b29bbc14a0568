"""How fast difficult-MNIST builds, beside the I/O floor measured in the same run.

    python bench/dataset_build.py [--workers N] [--scale 1.0]

Builds a version with the default sizes (50,000 / 10,000 / 10,000 / 2,000; --scale shrinks them)
into a temporary directory, then writes the same number of image bytes with numpy into the same
filesystem: the floor no generator can beat. Prints images per second for both, the ratio, and
whether the full build met the target of one minute on this machine.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dmnist import DEFAULT_COUNTS, build

TARGET_S = 60.0


def io_floor(folder: Path, images: int) -> float:
    """Seconds to write `images` 64×64×3 uint8 images with np.save, split by split, and fsync."""
    started = time.perf_counter()
    for split, n in DEFAULT_COUNTS.items():
        n = round(n * images / sum(DEFAULT_COUNTS.values()))
        path = folder / f"{split}.npy"
        np.save(path, np.zeros((n, 64, 64, 3), np.uint8), allow_pickle=False)
        with open(path, "rb+") as f:
            os.fsync(f.fileno())
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the default sizes (1.0: the target's)")
    args = parser.parse_args()
    counts = {split: max(10, round(n * args.scale)) for split, n in DEFAULT_COUNTS.items()}
    total = sum(counts.values())
    with tempfile.TemporaryDirectory(prefix="basin-bench-dmnist-") as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        build(tmp / "version", seed=0, counts=counts, workers=args.workers, progress=False)
        build_s = time.perf_counter() - started
        shutil.rmtree(tmp / "version")  # the floor writes into the same, now empty, filesystem
        (tmp / "floor").mkdir()
        floor_s = io_floor(tmp / "floor", total)
    cores = os.cpu_count()
    print(f"difficult-MNIST, {total:,} images ({', '.join(f'{s} {n:,}' for s, n in counts.items())}), "
          f"{args.workers or min(cores or 1, 8)} worker processes on {cores} cores")
    print(f"{'':22}{'seconds':>9}{'images/s':>11}{'× floor':>9}")
    print(f"{'build (dmnist)':22}{build_s:>9.1f}{total / build_s:>11,.0f}{build_s / floor_s:>9.1f}")
    print(f"{'I/O floor (np.save)':22}{floor_s:>9.1f}{total / floor_s:>11,.0f}{1.0:>9.1f}")
    if args.scale == 1.0:
        verdict = "met" if build_s < TARGET_S else "MISSED"
        print(f"target: the full default build in under {TARGET_S:.0f} s: {verdict} ({build_s:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
