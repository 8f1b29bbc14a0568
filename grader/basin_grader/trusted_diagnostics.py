"""Diagnostics the trusted scorer computes from the logits the sandbox wrote and the hidden labels:
calibration, logit margins, accuracy per paper × pen, the public/private gap and the shift drop.

numpy and the standard library only, like scoring. Everything that uses private-part labels (the
public/private gap included) sits under the "private" key: stored, shown only after the reveal.
The sandbox-side diagnostics (loss landscape, sharpness, features) are the runtime's, run apart.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from .scoring import log_softmax

ECE_BINS = 15
MARGIN_BINS = 20
MARGIN_CLIP = 1e6
Z95 = 1.959963984540054


def softmax(logits: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(logits))  # finite for any finite logits (±1e308 included)


def calibration(logits: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> dict | None:
    """ECE over `bins` equal-width confidence bins (a confidence of exactly 1.0 falls in the last
    bin), the reliability diagram's data, NLL and the multi-class Brier score."""
    if len(labels) == 0:
        return None
    probs = softmax(logits)
    confidence, predicted = probs.max(axis=1), probs.argmax(axis=1)
    correct = predicted == labels
    # Bin b holds (b/B, (b+1)/B]; a confidence of 0 cannot occur (it is at least 1/classes).
    index = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    diagram, ece = [], 0.0
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        row: dict[str, Any] = {"lower": b / bins, "upper": (b + 1) / bins, "count": count, "confidence": None,
                               "accuracy": None}
        if count:
            row["confidence"] = float(confidence[members].mean())
            row["accuracy"] = float(correct[members].mean())
            ece += count / len(labels) * abs(row["accuracy"] - row["confidence"])
        diagram.append(row)
    onehot = np.eye(logits.shape[1])[labels]
    return {
        "ece": float(ece),
        "nll": float(-log_softmax(logits)[np.arange(len(labels)), labels].mean()),
        "brier": float(((probs - onehot) ** 2).sum(axis=1).mean()),
        "reliability": diagram,
    }


def margins(logits: np.ndarray, labels: np.ndarray, bins: int = MARGIN_BINS) -> dict | None:
    """The logit margin of each image: its true class's logit minus the largest other one
    (negative when misclassified); the distribution as a histogram and its 10th percentile."""
    if len(labels) == 0:
        return None
    rows = np.arange(len(labels))
    true = logits[rows, labels]
    others = logits.copy()
    others[rows, labels] = -np.inf
    # Finite logits can still be huge (±1e308): keep the differences finite for the histogram.
    with np.errstate(over="ignore"):
        margin = np.clip(true - others.max(axis=1), -MARGIN_CLIP, MARGIN_CLIP)
    lo, hi = float(margin.min()), float(margin.max())
    if not hi - lo > 1e-9 * max(1.0, abs(lo), abs(hi)):  # (near-)equal margins, subnormal ones too: numpy's
        lo, hi = lo - 0.5, hi + 0.5                       # own range for equal values, not 20 empty bins
    counts, edges = np.histogram(margin, bins=bins, range=(lo, hi))
    return {"p10": float(np.percentile(margin, 10)), "median": float(np.median(margin)),
            "histogram": {"edges": edges.tolist(), "counts": counts.tolist()}}


def proportion_gap(correct_a: np.ndarray, correct_b: np.ndarray) -> dict | None:
    """Accuracy of a minus accuracy of b, with a 95% Wald interval for the difference of two
    independent proportions."""
    if len(correct_a) == 0 or len(correct_b) == 0:
        return None
    pa, pb = float(correct_a.mean()), float(correct_b.mean())
    half = Z95 * math.sqrt(pa * (1 - pa) / len(correct_a) + pb * (1 - pb) / len(correct_b))
    return {"gap": pa - pb, "ci95": [pa - pb - half, pa - pb + half]}


def read_groups(meta_csv: Path) -> list[tuple[str, str]] | None:
    """(paper, pen) of every sample, in order, from a split's meta.csv; None where there is none."""
    try:
        with open(meta_csv, newline="") as f:
            return [(row["paper"], row["pen"]) for row in csv.DictReader(f)]
    except (OSError, KeyError):
        return None


def group_accuracy(correct: np.ndarray, groups: list[tuple[str, str]] | None) -> dict | None:
    if not len(correct) or groups is None or len(groups) != len(correct):
        return None
    table: dict[tuple[str, str], list[int]] = {}
    for (paper, pen), ok in zip(groups, correct.tolist(), strict=True):
        hits = table.setdefault((paper, pen), [0, 0])
        hits[0] += ok
        hits[1] += 1
    rows: list[dict[str, Any]] = [{"paper": paper, "pen": pen, "count": n, "accuracy": hits / n}
            for (paper, pen), (hits, n) in sorted(table.items())]
    return {"groups": rows, "worst": min(rows, key=lambda r: (r["accuracy"], -r["count"]))}


def _part(logits: np.ndarray, labels: np.ndarray, groups: list | None) -> dict:
    correct = logits.argmax(axis=1) == labels
    return {"calibration": calibration(logits, labels), "margins": margins(logits, labels),
            "by_paper_and_pen": group_accuracy(correct, groups)}


def diagnose(test_logits: np.ndarray, test_labels: np.ndarray, is_private: np.ndarray,
             test_groups: list | None, shift_logits: np.ndarray | None = None,
             shift_labels: np.ndarray | None = None) -> dict:
    """Everything the trusted scorer can tell from the logits, by leaderboard part."""
    def pick(mask):
        return test_logits[mask], test_labels[mask], None if test_groups is None else [
            g for g, m in zip(test_groups, mask.tolist(), strict=False) if m]

    correct = test_logits.argmax(axis=1) == test_labels
    out = {"public": _part(*pick(~is_private)), "private": _part(*pick(is_private))}
    # public − private gives the private accuracy away: it belongs to the private part.
    out["private"]["gap_from_public"] = proportion_gap(correct[~is_private], correct[is_private])
    if shift_logits is not None and shift_labels is not None:
        shift_correct = shift_logits.argmax(axis=1) == shift_labels
        out["shift"] = {"accuracy": float(shift_correct.mean()) if len(shift_labels) else None,
                        # against the public part: the drop is shown before the reveal too
                        "drop_from_public": proportion_gap(correct[~is_private], shift_correct),
                        "calibration": calibration(shift_logits, shift_labels)}
    return out
