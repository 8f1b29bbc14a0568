"""CSV files that staff open in a spreadsheet: text cells that a spreadsheet would run as a formula
are neutralised (OWASP "CSV injection"), numbers stay numbers.

A text cell whose first non-blank character starts a formula (= + - @, their full-width forms, or
a tab / CR / LF that some spreadsheets skip) gets a leading apostrophe, which every spreadsheet
shows as text and never evaluates. A text cell that is a plain number ("-5", "+3.25") cannot run
anything and is left alone, and numeric columns are never touched: a negative score or penalty
still reads as a number.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

FORMULA_STARTS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralize_cell(value: str) -> str:
    stripped = value.lstrip(" \u3000")
    if not stripped or stripped[0] not in FORMULA_STARTS or PLAIN_NUMBER.fullmatch(stripped):
        return value
    return "'" + value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of the frame with every text column neutralised; numeric columns as they were."""
    import pandas as pd  # with the frame: only where a table is written

    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column].dtype):
            safe[column] = safe[column].map(lambda v: neutralize_cell(v) if isinstance(v, str) else v,
                                            na_action="ignore").astype(safe[column].dtype)
    return safe
