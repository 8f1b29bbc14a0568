"""Finding hidden test images in text a student can read: any 16-byte run of any hidden image, as
raw bytes or written in hex, base64 or base85 (both alphabets), anywhere in the text.

Used by the tests that plant hidden images in every channel a submission has to a student
(tests/platform/test_hidden_images_stay_hidden.py) and by the adversarial suite.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from basin_grader import dataset_layout as layout

RUN = 16  # bytes: a run this long found anywhere is a leak
_BLOCK = 8  # every 16-byte run of an image holds one whole block aligned to 8
# A block with fewer distinct values carries next to nothing of an image and occurs in innocent
# text (runs of spaces or zeros); leaving such blocks out keeps the search free of false alarms.
_MIN_DISTINCT = 4

_HEX = re.compile(rb"[0-9a-fA-F]{%d,}" % (2 * RUN))
_B64 = re.compile(rb"[A-Za-z0-9+/\-_]{%d,}" % (RUN * 4 // 3))
_B85 = re.compile(rb"[0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]{20,}")
_A85 = re.compile(rb"[!-u]{20,}")
_B85_ALPHABET = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~"
_B85_VALUE = {c: i for i, c in enumerate(_B85_ALPHABET)}
_A85_VALUE = {c: c - 33 for c in range(33, 118)}


@dataclass(frozen=True)
class Leak:
    form: str
    split: str
    image: int


class HiddenImages:
    """The hidden splits' images of a dataset version, indexed by their aligned 8-byte blocks."""

    def __init__(self, dataset: Path):
        self.images: list[tuple[str, int, bytes]] = []
        self.index: dict[bytes, list[tuple[int, int]]] = {}
        for split in layout.HIDDEN_SPLITS:
            path = layout.split_file(dataset, split, layout.IMAGES)
            if not path.exists():
                continue
            for i, image in enumerate(np.load(path, allow_pickle=False)):
                raw = np.ascontiguousarray(image).tobytes()
                number = len(self.images)
                self.images.append((split, i, raw))
                for offset in range(0, len(raw) - _BLOCK + 1, _BLOCK):
                    block = raw[offset:offset + _BLOCK]
                    if len(set(block)) >= _MIN_DISTINCT:
                        self.index.setdefault(block, []).append((number, offset))

    def leaks(self, text: str | bytes) -> list[Leak]:
        """Every form in which a hidden run appears in `text` (empty: none does)."""
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        found = []
        for form, blobs in (("raw", _raw_forms(text, data)), ("hex", _decoded(_HEX, data, _unhex, 2)),
                            ("base64", _decoded(_B64, data, _unbase64, 4)),
                            ("base85", _decoded(_B85, data, lambda c: _unbase85(c, _B85_VALUE), 5)),
                            ("ascii85", _decoded(_A85, data, lambda c: _unbase85(c, _A85_VALUE), 5))):
            for blob in blobs:
                hit = self._find(blob)
                if hit is not None:
                    split, image = hit
                    found.append(Leak(form, split, image))
                    break
        return found

    def _find(self, blob: bytes) -> tuple[str, int] | None:
        for j in range(len(blob) - _BLOCK + 1):
            for number, offset in self.index.get(blob[j:j + _BLOCK], ()):
                raw = self.images[number][2]
                left = 0
                while left < min(j, offset) and blob[j - left - 1] == raw[offset - left - 1]:
                    left += 1
                right = _BLOCK
                while j + right < len(blob) and offset + right < len(raw) and blob[j + right] == raw[offset + right]:
                    right += 1
                if left + right >= RUN:
                    return self.images[number][0], self.images[number][1]
        return None


def _raw_forms(text: str | bytes, data: bytes) -> list[bytes]:
    forms = [data]
    if isinstance(text, str):  # text decoded as Latin-1 somewhere on its way keeps one byte per character
        forms.append(text.encode("latin-1", "ignore"))
    return forms


def _decoded(pattern: re.Pattern, data: bytes, decode, group: int) -> list[bytes]:
    """Every run of the alphabet, decoded from each of its `group` possible starting offsets."""
    blobs = []
    for match in pattern.finditer(data):
        chunk = match.group()
        for start in range(group):
            usable = chunk[start:]
            usable = usable[:len(usable) - len(usable) % group]
            if usable:
                blobs.append(decode(usable))
    return blobs


def _unhex(chunk: bytes) -> bytes:
    return binascii.unhexlify(chunk)


def _unbase64(chunk: bytes) -> bytes:
    standard = chunk.replace(b"-", b"+").replace(b"_", b"/")
    return base64.b64decode(standard, validate=False)


def _unbase85(chunk: bytes, values: dict[int, int]) -> bytes:
    """Group by group; a group whose value overflows 32 bits (not base85 there) decodes to nothing."""
    out = bytearray()
    for g in range(0, len(chunk), 5):
        value = 0
        for c in chunk[g:g + 5]:
            value = value * 85 + values.get(c, 0)
        if value < 1 << 32:
            out += value.to_bytes(4, "big")
    return bytes(out)
