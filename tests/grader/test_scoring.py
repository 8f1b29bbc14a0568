"""The trusted scorer's numbers, checked against a case small enough to work out by hand."""
import numpy as np
import pytest

from basin_grader.scoring import NLL_CAP, metrics, score_test


def one_hot_logits(predicted, num_classes=3):
    logits = np.full((len(predicted), num_classes), -5.0)
    logits[np.arange(len(predicted)), predicted] = 5.0
    return logits


def test_metrics_match_a_hand_computation():
    labels = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 0])
    m = metrics(one_hot_logits(predicted), labels, num_classes=3)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["per_class_accuracy"] == [0.5, 1.0, 0.5]
    # F1 per class: 2·1/(2+2)=0.5, 2·2/(2+3)=0.8, 2·1/(2+1)=2/3
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    # NLL of a confident right answer is log(1 + 2e^-10); of a confident wrong one, 10 + that.
    small = np.log(1 + 2 * np.exp(-10.0))
    assert m["nll"] == pytest.approx((4 * small + 2 * (10 + small)) / 6)


def test_a_class_that_never_occurs_has_no_accuracy_and_does_not_drag_f1_down():
    m = metrics(one_hot_logits(np.array([0, 1])), np.array([0, 1]), num_classes=3)
    assert m["per_class_accuracy"] == [1.0, 1.0, None] and m["macro_f1"] == 1.0


def test_the_test_split_is_scored_per_leaderboard_part():
    labels = np.array([0, 1, 2, 0])
    private = np.array([False, False, True, True])
    scores = score_test(one_hot_logits(np.array([0, 1, 2, 1])), labels, private)
    assert (scores["public"]["accuracy"], scores["private"]["accuracy"], scores["all"]["accuracy"]) == (1.0, 0.5, 0.75)
    assert scores["public"]["count"] == scores["private"]["count"] == 2


def _extreme(kind: str, n: int = 40, classes: int = 10) -> np.ndarray:
    rng = np.random.default_rng(3)
    signs = np.where(rng.random((n, classes)) < 0.5, 1.0, -1.0)
    big = {"1e308": np.full((n, classes), 1e308) * (rng.random((n, classes)) < 0.3),
           "-1e308": np.full((n, classes), -1e308) * (rng.random((n, classes)) < 0.7),
           "mixed": signs * 1e308, "max float64": signs * np.finfo(np.float64).max,
           "subnormal": signs * 5e-324, "float16 max": (signs * np.finfo(np.float16).max).astype(np.float16),
           "float32 max": (signs * np.finfo(np.float32).max).astype(np.float32)}[kind]
    return np.asarray(big).astype(np.float64)


EXTREMES = ["1e308", "-1e308", "mixed", "max float64", "subnormal", "float16 max", "float32 max"]


@pytest.mark.parametrize("kind", EXTREMES)
def test_any_finite_logits_give_finite_scores_and_diagnostics(kind):
    """Stored numbers must be finite: PostgreSQL's jsonb refuses Infinity, and so does strict JSON."""
    import json

    from basin_grader.trusted_diagnostics import diagnose

    logits = _extreme(kind)
    labels = np.arange(len(logits)) % 10
    private = np.arange(len(logits)) % 3 == 0
    groups = [("paper", "pen")] * len(logits)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no warning hides an overflow either
        scores = score_test(logits, labels, private)
        found = diagnose(logits, labels, private, groups, logits, labels)
    json.dumps(scores, allow_nan=False)
    json.dumps(found, allow_nan=False)
    assert 0 <= scores["all"]["nll"] <= NLL_CAP


def test_a_confidently_wrong_image_costs_at_most_the_nll_cap_and_a_right_one_nothing():
    logits = np.array([[1e308, -1e308], [-1e308, 1e308]])
    m = metrics(logits, np.array([0, 0]), num_classes=2)
    assert m["accuracy"] == 0.5 and m["nll"] == pytest.approx(NLL_CAP / 2)
