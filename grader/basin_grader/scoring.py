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
    raw = read_capped(path, MAX_RESULT_BYTES)
    if raw is None:
        return {}
    try:
        result = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return result if isinstance(result, dict) else {}


def read_logits(path: Path, n: int, num_classes: int = 10) -> np.ndarray:
    """Exactly n×num_classes finite floats from a .npy file, or a GradingError(invalid_output)."""
    raw = read_capped(path, 128 + n * num_classes * 8)
    if raw is None:
        raise GradingError(INVALID_OUTPUT, f"The model wrote no {path.name}.")
    try:
        logits = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise GradingError(INVALID_OUTPUT, f"{path.name} is not a valid .npy array: {e}") from e
    if logits.shape != (n, num_classes) or logits.dtype.kind != "f":
        raise GradingError(INVALID_OUTPUT, f"Expected {n}×{num_classes} float logits, got {logits.dtype} {logits.shape}.")
    logits = logits.astype(np.float64)
    if not np.isfinite(logits).all():
        bad = int((~np.isfinite(logits)).any(axis=1).sum())
        raise GradingError(INVALID_OUTPUT, f"The logits of {bad} images are NaN or infinite.")
    return logits


def metrics(logits: np.ndarray, labels: np.ndarray) -> dict:
    """accuracy and mean negative log-likelihood (natural log) of logits against labels; None
    for both on an empty set (a tiny test split may have no sample in one part)."""
    if len(labels) == 0:
        return {"accuracy": None, "nll": None, "count": 0}
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return {
        "accuracy": float((logits.argmax(axis=1) == labels).mean()),
        "nll": float(-log_probs[np.arange(len(labels)), labels].mean()),
        "count": int(len(labels)),
    }


def score_test(logits: np.ndarray, labels: np.ndarray, is_private: np.ndarray) -> dict:
    """Scores on the public leaderboard part, the private part, and the whole test split."""
    return {
        "public": metrics(logits[~is_private], labels[~is_private]),
        "private": metrics(logits[is_private], labels[is_private]),
        "all": metrics(logits, labels),
    }
