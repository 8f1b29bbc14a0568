"""The starter notebook as stored: no outputs, the SMALL switch at the top. It is executed end to end,
as downloaded, in tests/e2e/test_student_from_a_bare_machine.py."""
from __future__ import annotations

from pathlib import Path

import nbformat

NOTEBOOK = Path(__file__).resolve().parents[2] / "starter_kit" / "starter.ipynb"


def test_the_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)
    assert code[0].source.splitlines()[2] == "SMALL = True"  # the switch at the top
