"""A safetensors header checked by the loader's own rules, without reading a tensor.

The sandbox loads weights with safetensors (Rust: `SafeTensors::read_metadata`, then torch).
Whatever that loader would refuse is refused here first, so the student hears
`invalid_submission` with a fix from the web and `basin check`, not a `runtime_error` from the
sandbox. Its rules: an 8-byte little-endian header length of at most 100,000,000 that fits the
file; the header strict UTF-8 JSON (no lone surrogates, nesting under serde's limit); an object
whose `__metadata__` (optional) maps strings to strings and whose other keys map to
{dtype, shape, data_offsets}; shapes and offsets unsigned 64-bit integers; the tensors, sorted
by offset, contiguous from 0 with each one's byte length equal to its element count times its
dtype's size (no overflow); the last one ending exactly at the end of the file. Here, further: a
known dtype torch can hold, no duplicate keys, no unknown fields, and a header of at most
MAX_HEADER_BYTES (real headers are ~100 bytes per tensor).
"""
from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Protocol

from .verdicts import INVALID_SUBMISSION, GradingError

# safetensors' names and element sizes for the dtypes torch loads (sub-byte and complex ones left out).
ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2,
            "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
LOADER_MAX_HEADER = 100_000_000  # safetensors' MAX_HEADER_SIZE
MAX_HEADER_BYTES = 1 << 20  # ~10,000 tensors; parsing it costs ~0.1 s
U64_MAX = (1 << 64) - 1
MAX_DIMENSIONS = 64  # a tensor of more dimensions than this is no model's weight
_FIELDS = {"dtype", "shape", "data_offsets"}
SAVE_HINT = "Save the weights with safetensors.torch.save_file(model.state_dict(), 'weights.safetensors')."


def _reject(message: str) -> GradingError:
    return GradingError(INVALID_SUBMISSION, f"{message} {SAVE_HINT}")


def first_repeated(names: list[str]) -> str:
    """The first name that occurs a second time (the caller knows that one does)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    raise ValueError("no name occurs twice")


def _unique_object(pairs: list[tuple[str, object]]) -> dict:
    found = dict(pairs)
    if len(found) != len(pairs):
        duplicate = first_repeated([k for k, _ in pairs])
        raise _reject(f"The .safetensors header names {duplicate[:80]!r} twice.")
    return found


def _small_int(digits: str) -> int:
    if len(digits.lstrip("-")) > 20:  # beyond u64: also keeps int() off 4,300-digit strings
        raise _reject("The .safetensors header holds a number too large for a shape or offset.")
    return int(digits)


def _float(text: str) -> float:
    raise _reject("The .safetensors header holds a fractional number; shapes and offsets are whole numbers.")


def _constant(name: str) -> float:
    raise _reject(f"The .safetensors header holds {name}, which is not JSON.")


def _parse(raw: bytes) -> dict:
    try:
        text = raw.decode("utf-8")  # strict: json.loads(bytes) would also take UTF-16 and UTF-32
        header = json.loads(text, object_pairs_hook=_unique_object, parse_int=_small_int, parse_float=_float,
                            parse_constant=_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise _reject("The .safetensors header is not valid JSON.") from None
    if not isinstance(header, dict):
        raise _reject("The .safetensors header is not a JSON object.")
    return header


def _is_u64(value) -> bool:
    return type(value) is int and 0 <= value <= U64_MAX  # bool is an int subclass: not a size


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")  # a lone surrogate (\ud800) passes Python's JSON, not serde's
    except UnicodeEncodeError:
        return False
    return True


def _check_metadata(metadata) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict) or not all(isinstance(v, str) and _utf8(k) and _utf8(v)
                                                 for k, v in metadata.items()):
        raise _reject("The .safetensors '__metadata__' must map text to text.")


def _tensor_span(key: str, entry) -> tuple[int, int]:
    """(begin, end) of a valid entry's bytes."""
    shown = repr(key[:80])
    if not _utf8(key):
        raise _reject(f"The .safetensors tensor name {shown} is not valid text.")
    if not isinstance(entry, dict) or set(entry) != _FIELDS:
        raise _reject(f"The .safetensors entry {shown} must have exactly dtype, shape and data_offsets.")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in ITEMSIZE:
        raise _reject(f"The .safetensors entry {shown} has the dtype {str(dtype)[:20]!r}; the grader loads "
                      f"{', '.join(ITEMSIZE)}.")
    if not isinstance(shape, list) or not all(_is_u64(d) for d in shape):
        raise _reject(f"The .safetensors entry {shown} has a shape that is not a list of sizes.")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_u64(o) for o in offsets)):
        raise _reject(f"The .safetensors entry {shown} needs data_offsets [begin, end].")
    if len(shape) > MAX_DIMENSIONS:  # the product of thousands of sizes is quadratic work
        raise _reject(f"The .safetensors entry {shown} has {len(shape)} dimensions; "
                      f"at most {MAX_DIMENSIONS} are loaded.")
    count = 1
    for d in shape:
        count *= d
        if count > U64_MAX:
            break
    nbytes = count * ITEMSIZE[dtype]
    begin, end = offsets
    if nbytes > U64_MAX or end < begin or end - begin != nbytes:
        raise _reject(f"The .safetensors entry {shown} has offsets that do not match its shape and dtype.")
    return begin, end


class Readable(Protocol):
    """A file, or an archive member read through a budget (basin_grader.archive_reading.Metered)."""

    def read(self, n: int = -1, /) -> bytes: ...


def check_header(f: Readable, size: int, tick: Callable[[], None] = lambda: None) -> dict:
    """Check the safetensors file of `size` bytes read from `f` (at its start); its header.
    `tick` is called now and then, to stop a check that takes too long."""
    head = f.read(8)
    if len(head) < 8:
        raise _reject("The .safetensors file is truncated.")
    (n,) = struct.unpack("<Q", head)
    if n > LOADER_MAX_HEADER or n > size - 8:
        raise _reject("The .safetensors header length does not fit the file; the file is damaged or not safetensors.")
    if n > MAX_HEADER_BYTES:
        raise _reject(f"The .safetensors header is {n:,} bytes; the grader reads at most {MAX_HEADER_BYTES:,}.")
    raw = f.read(n)
    if len(raw) != n:
        raise _reject("The .safetensors file is truncated.")
    header = _parse(raw)
    tick()
    _check_metadata(header.get("__metadata__"))
    spans = []
    for i, (key, entry) in enumerate(header.items()):
        if i % 10_000 == 0:
            tick()
        if key != "__metadata__":
            spans.append(_tensor_span(key, entry))
    spans.sort()
    end = 0
    for begin, stop in spans:
        if begin != end:
            raise _reject("The .safetensors tensors overlap or leave gaps between them; the file is damaged.")
        end = stop
    if 8 + n + end != size:
        raise _reject(f"The .safetensors tensors cover {end:,} bytes but the file holds {size - 8 - n:,}; "
                      "the file is damaged.")
    return header
