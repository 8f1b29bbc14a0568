"""Text from a server, made safe for a terminal. Whatever a server (or a submission's log, or
another student's team name) sends may hold escape sequences that recolour, retitle, rewrite or
hide what the student reads, or bidi controls that reorder it. Only newline and tab survive among
the controls; printable text, any script, is kept as it is."""
from __future__ import annotations

import re
import unicodedata

# ESC-introduced sequences: CSI (ESC [ ... final), OSC/DCS/SOS/PM/APC strings (ESC ] ... BEL or ST),
# and two-character escapes; and the C1 forms (U+009B CSI, U+009D OSC, ...) of the same.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_KEPT = frozenset("\n\t")


def _safe(ch: str) -> bool:
    if ch in _KEPT:
        return True
    if ch in BIDI_CONTROLS or ch in "\u2028\u2029":  # line/paragraph separators: some terminals break on them
        return False
    return unicodedata.category(ch) not in ("Cc", "Cs")  # C0, DEL, C1; lone surrogates


def clean(value) -> str:
    """`value` as text with escape sequences, control characters (but newline and tab) and bidi
    controls removed."""
    text = _ESCAPES.sub("", str(value))
    return "".join(ch for ch in text if _safe(ch))


def number(value, digits: int = 4) -> str:
    """A score as the server should send it (a number), or whatever it sent, cleaned."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.{digits}f}"
    return "-" if value is None else clean(value)
