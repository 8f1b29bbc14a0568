"""Trusted side: read what the sandbox wrote without believing it, then score with hidden labels.

numpy only; never torch, never pickle. Files are opened with O_NOFOLLOW (a planted symlink fails)
and O_NONBLOCK (a planted FIFO does not hang), must be regular, and are size-capped before reading.
"""
from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import numpy as np

from .verdicts import INVALID_OUTPUT, GradingError

MAX_RESULT_BYTES = 64 * 1024


def read_capped(path: Path, max_bytes: int) -> bytes | None:
    """The bytes of a regular file of at most max_bytes; None when it does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as e:  # ELOOP: a symlink where a file should be
        raise GradingError(INVALID_OUTPUT, f"{path.name} is not a regular file.") from e
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise GradingError(INVALID_OUTPUT, f"{path.name} is not a regular file.")
        if st.st_size > max_bytes:
            raise GradingError(INVALID_OUTPUT, f"{path.name} is {st.st_size:,} bytes; at most {max_bytes:,} expected.")
        return f.read(max_bytes + 1)[:max_bytes]


def read_result(path: Path) -> dict:
    """A run's result.json as a dict, or {} for anything else: the model can write it, so an
    oversized, planted, malformed, deeply nested or huge-integer file is an empty claim, never an
    exception in the worker (which would retry the run for free)."""
    try:
        raw = read_capped(path, MAX_RESULT_BYTES)
        result = json.loads(raw) if raw else {}
    except (GradingError, ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return {}
    return result if isinstance(result, dict) else {}


def read_logits(path: Path, n: int, num_classes: int = 10) -> np.ndarray:
    """Exactly n×num_classes finite floats from a .npy file, or a GradingError(invalid_output)."""
    raw = read_capped(path, 128 + n * num_classes * 8)
    if not raw:  # missing, or still the empty file the worker made before the run
        raise GradingError(INVALID_OUTPUT, f"The model wrote no {path.name}.")
    try:
        logits = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise GradingError(INVALID_OUTPUT, f"{path.name} is not a valid .npy array: {e}") from e
    if logits.shape != (n, num_classes) or logits.dtype.kind != "f":
        raise GradingError(INVALID_OUTPUT,
                           f"Expected {n}×{num_classes} float logits, got {logits.dtype} {logits.shape}.")
    logits = logits.astype(np.float64)
    if not np.isfinite(logits).all():
        bad = int((~np.isfinite(logits)).any(axis=1).sum())
        raise GradingError(INVALID_OUTPUT, f"The logits of {bad} images are NaN or infinite.")
    return logits


# The most a single image adds to the NLL: -ln(1e-300), a probability floor of 1e-300 (the
# calibration diagnostics use the same floor). Finite logits may be ±1e308; their true NLL is then
# ~1e308 and cannot be stored (PostgreSQL's jsonb refuses Infinity). Capped, not refused: such
# logits are valid output (N×10, finite), accuracy (the ranked score) is well defined for them, and
# an over-confident model deserves a large loss on its page, not a failed submission.
NLL_CAP = float(-np.log(1e-300))


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Natural-log probabilities in [-NLL_CAP, 0] for any finite logits. Differences to the row's
    maximum that overflow float64 (±1e308 in one row) are -inf, a probability of exactly 0, as
    they should be; the floor then keeps every number finite."""
    with np.errstate(over="ignore", invalid="ignore"):
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return np.clip(log_probs, -NLL_CAP, 0.0)


def metrics(logits: np.ndarray, labels: np.ndarray, num_classes: int = 10) -> dict:
    """Accuracy, mean negative log-likelihood (natural log, at most NLL_CAP per image), macro-F1,
    per-class accuracy and the confusion matrix (rows: true class, columns: predicted). None where a set
    is empty (a tiny test split may have no sample in one part) and, per class, where the class does not
    occur."""
    if len(labels) == 0:
        return {"accuracy": None, "nll": None, "macro_f1": None, "per_class_accuracy": [None] * num_classes,
                "confusion": [[0] * num_classes for _ in range(num_classes)], "count": 0}
    log_probs = log_softmax(logits)
    predicted = logits.argmax(axis=1)
    confusion = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    true_positive = np.diag(confusion).astype(np.float64)
    support, claimed = confusion.sum(axis=1), confusion.sum(axis=0)
    # F1 = 2TP / (support + claimed); a class neither present nor predicted is left out of the mean.
    counted = (support + claimed) > 0
    f1 = 2 * true_positive[counted] / (support + claimed)[counted]
    return {
        "accuracy": float((predicted == labels).mean()),
        "nll": float(-log_probs[np.arange(len(labels)), labels].mean()),
        "macro_f1": float(f1.mean()),
        "per_class_accuracy": [float(true_positive[c] / support[c]) if support[c] else None
                               for c in range(num_classes)],
        "confusion": confusion.tolist(),
        "count": int(len(labels)),
    }


def score_test(logits: np.ndarray, labels: np.ndarray, is_private: np.ndarray) -> dict:
    """Scores on the public leaderboard part, the private part, and the whole test split."""
    return {
        "public": metrics(logits[~is_private], labels[~is_private]),
        "private": metrics(logits[is_private], labels[is_private]),
        "all": metrics(logits, labels),
    }
