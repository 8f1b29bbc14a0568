"""The diagnostics the trusted scorer computes, checked against hand computations."""
import math

import numpy as np
import pytest

from basin_grader.trusted_diagnostics import calibration, diagnose, group_accuracy, margins, proportion_gap


def logits_for(probabilities: list[list[float]]) -> np.ndarray:
    return np.log(np.array(probabilities))  # softmax(log p) = p


def test_ece_matches_a_hand_computation():
    # Confidences 0.9 and 0.9 fall in bin 13, (13/15, 14/15]; 0.6 in bin 8; ≈1.0 in the last, bin 14.
    probs = [[0.9, 0.1], [0.1, 0.9], [0.6, 0.4], [1.0 - 1e-12, 1e-12]]
    labels = np.array([0, 0, 1, 0])  # right, wrong, wrong, right
    result = calibration(logits_for(probs), labels)
    # bin 13: conf 0.9, acc 0.5 → 2/4 · 0.4; bin 8: conf 0.6, acc 0 → 1/4 · 0.6; bin 14: conf ≈1, acc 1 → 0
    assert result["ece"] == pytest.approx(2 / 4 * 0.4 + 1 / 4 * 0.6, abs=1e-9)
    counts = {i: row["count"] for i, row in enumerate(result["reliability"]) if row["count"]}
    assert counts == {8: 1, 13: 2, 14: 1} and len(result["reliability"]) == 15
    assert result["nll"] == pytest.approx(-(math.log(0.9) + math.log(0.1) + math.log(0.4) + math.log(1 - 1e-12)) / 4)
    brier = ((0.1 ** 2 + 0.1 ** 2) + (0.9 ** 2 + 0.9 ** 2) + (0.6 ** 2 + 0.6 ** 2) + 0) / 4
    assert result["brier"] == pytest.approx(brier, abs=1e-9)


def test_a_confidence_of_exactly_one_falls_in_the_last_bin():
    result = calibration(np.array([[50.0, -50.0, -50.0]]), np.array([0]))
    assert result["reliability"][-1]["count"] == 1 and result["ece"] == pytest.approx(0.0, abs=1e-12)


def test_margins_are_the_true_logit_minus_the_best_other():
    logits = np.array([[3.0, 1.0, 0.0], [0.0, 2.0, 1.5], [1.0, 1.0, 4.0]])
    result = margins(logits, np.array([0, 2, 2]))
    values = np.array([2.0, -0.5, 3.0])
    assert result["p10"] == pytest.approx(np.percentile(values, 10))
    assert sum(result["histogram"]["counts"]) == 3


def test_the_gap_interval_is_the_wald_interval_of_two_proportions():
    a, b = np.array([1] * 80 + [0] * 20, bool), np.array([1] * 140 + [0] * 60, bool)
    result = proportion_gap(a, b)
    half = 1.959963984540054 * math.sqrt(0.8 * 0.2 / 100 + 0.7 * 0.3 / 200)
    assert result["gap"] == pytest.approx(0.1) and result["ci95"] == pytest.approx([0.1 - half, 0.1 + half])
    assert proportion_gap(a, np.array([], bool)) is None


def test_groups_name_the_worst_paper_and_pen():
    correct = np.array([1, 1, 0, 0, 1], bool)
    groups = [("kraft", "marker"), ("kraft", "marker"), ("graph", "pencil"), ("graph", "pencil"), ("graph", "marker")]
    result = group_accuracy(correct, groups)
    assert result["worst"] == {"paper": "graph", "pen": "pencil", "count": 2, "accuracy": 0.0}
    assert len(result["groups"]) == 3


def test_private_labels_stay_under_the_private_key():
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(40, 10)), rng.integers(0, 10, 40)
    private = np.arange(40) % 3 != 0
    result = diagnose(logits, labels, private, None, logits[:8], labels[:8])
    assert result["public"]["calibration"]["reliability"][0]["lower"] == 0.0
    assert sum(r["count"] for r in result["public"]["calibration"]["reliability"]) == (~private).sum()
    assert sum(r["count"] for r in result["private"]["calibration"]["reliability"]) == private.sum()
    assert result["public"]["by_paper_and_pen"] is None  # no metadata given
    assert set(result["shift"]) == {"accuracy", "drop_from_public", "calibration"}


def test_nothing_outside_the_private_key_depends_on_private_labels():
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(60, 10)), rng.integers(0, 10, 60)
    private = np.arange(60) % 3 != 0
    other_labels = labels.copy()
    other_labels[private] = (labels[private] + 3) % 10  # what the private part's labels are must not show
    first = diagnose(logits, labels, private, None, logits[:8], labels[:8])
    second = diagnose(logits, other_labels, private, None, logits[:8], labels[:8])
    assert first["private"] != second["private"]
    assert {k: v for k, v in first.items() if k != "private"} == {k: v for k, v in second.items() if k != "private"}
    assert "gap_from_public" in first["private"]


def test_huge_finite_logits_still_give_diagnostics():
    logits = np.array([[1e308, -1e308, 0.0], [-1e308, 1e308, 0.0], [0.0, 0.0, 1e308]])
    result = margins(logits, np.array([0, 0, 2]))
    assert np.isfinite(result["p10"]) and sum(result["histogram"]["counts"]) == 3
    assert calibration(logits, np.array([0, 0, 2]))["ece"] == pytest.approx(1 / 3)
