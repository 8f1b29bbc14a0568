"""A torch.export program must take any batch size: the grader feeds batches of its own size (256,
then what is left). One exported for a fixed batch is refused when loaded, in plain words, by the
grader and by `basin check` alike (the same loading code), not with a bare "Guard failed"."""
from __future__ import annotations

import pytest
import torch

from basin_grader.local_check import check_submission
from basin_grader.verdicts import INVALID_SUBMISSION, GradingError
from tests.factories import baseline, baseline_state, export_program

FIXED = ("This .pt2 was exported for batches of exactly 4 image(s), but the grader sends batches of other sizes. "
         "Export it with a dynamic batch dimension: batch = torch.export.Dim('batch'); "
         "torch.export.export(model.eval(), (example,), dynamic_shapes=({0: batch},)), with an example batch of "
         "2 or more images.")


def test_a_fixed_batch_export_is_refused_saying_how_to_export_it(tmp_path):
    program = torch.export.export(baseline(baseline_state()), (torch.zeros(4, 3, 64, 64),))  # no dynamic_shapes
    torch.export.save(program, str(tmp_path / "fixed.pt2"))
    with pytest.raises(GradingError) as refused:
        check_submission(tmp_path / "fixed.pt2")
    assert (refused.value.verdict, refused.value.message) == (INVALID_SUBMISSION, FIXED)


def test_a_dynamic_batch_export_passes_the_check_with_two_batch_sizes(tmp_path):
    report = check_submission(export_program(baseline_state(), tmp_path / "model.pt2"))
    assert report["kind"] == "export" and report["logits_shape"] == [8, 10]  # batches of 5, then 3
