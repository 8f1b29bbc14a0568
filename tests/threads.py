"""How many threads the test run computes with: one per process. The suite runs in two processes on
two cores beside sandboxes, servers and workers of its own; a second OpenMP or BLAS thread per
process oversubscribes the cores, and OpenMP's spinning waits then cost more than the thread gains
(two copies of tests/grader/test_model_diagnostics.py side by side: 210 s with two threads each,
66 s with one). Set by the process that starts the run, before its workers start, so that every
process of the run inherits it; a value already in the environment is kept."""
from __future__ import annotations

import os
import sys

VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def one_per_process() -> None:
    chosen = "OMP_NUM_THREADS" in os.environ
    for name in VARIABLES:
        os.environ.setdefault(name, "1")
    if not chosen and "torch" in sys.modules:  # imported before the environment was read (a plugin)
        sys.modules["torch"].set_num_threads(1)
