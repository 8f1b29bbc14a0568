"""The trusted scorer's numbers, checked against a case small enough to work out by hand."""
import numpy as np
import pytest

from basin_grader.scoring import metrics, score_test


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
