"""What a submission file is, decided without deserializing it.

The web, the `basin check` command and the sandbox runtime all call `inspect_submission`, so a
student hears the same verdict everywhere. It reads zip listings, safetensors headers and
pickle *opcodes* (never executing them); real loading happens only inside the sandbox.

Whatever the file holds, the only error that leaves `inspect_submission` is
GradingError(invalid_submission) with a message that says what to send instead, and its work is
bounded (ArchiveLimits): entries, declared sizes and ratios, bytes inflated, pickle opcodes, time.
"""
from __future__ import annotations

import pickletools
import stat
import struct
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from .safetensors_header import check_header as _check_safetensors
from .verdicts import INVALID_SUBMISSION, GradingError

BUNDLE = "bundle"  # zip: model.py with build_model() + weights (.safetensors or a state_dict .pt)
EXPORT = "export"  # a torch.export program (.pt2)
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth")

WHAT_TO_SEND = (
    "Send either a bundle, a zip holding model.py (with build_model() returning your nn.Module) "
    "and the weights from model.state_dict() saved as .safetensors or .pt, or a torch.export "
    "program saved with torch.export.save(...) as .pt2."
)
ONLY = "Send a zip of model.py and the one weights file from model.state_dict()."
REZIP = "Make the zip again with Python's zipfile or the zip command, without a password."

# Pickle globals a plain state_dict of tensors needs; anything else means a pickled object.
_STATE_DICT_GLOBALS = ("collections.OrderedDict", "torch._utils.", "torch.serialization.",
                       "torch.", "builtins.set")
_MODULE_HINTS = ("torch.nn.modules.", "__main__.", "torch.jit.", "torch.fx.")
# data.pkl of a state_dict holds names and shapes only (tensors are separate entries).
MAX_PICKLE_BYTES = 16 << 20
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what zip, zipfile and torch.save write


@dataclass(frozen=True)
class ArchiveLimits:
    max_entries: int = 64  # a bundle's
    max_nested_entries: int = 20_000  # a .pt2's or torch.save zip's: about one entry per tensor
    max_uncompressed: int = 2 << 30  # declared, all entries together
    max_ratio: int = 100  # uncompressed / compressed, for entries over 1 MiB (zip bombs)
    max_inflated: int = 64 << 20  # bytes decompressed while inspecting: a deflated .pt of a 50 MB upload
    max_pickle_ops: int = 500_000  # a state_dict needs ~25 per tensor
    max_seconds: float = 5.0


@dataclass(frozen=True)
class SubmissionInfo:
    kind: str
    weights: str | None = None  # the weights entry of a bundle
    entries: int = 0
    uncompressed_bytes: int = 0


def _reject(message: str) -> GradingError:
    return GradingError(INVALID_SUBMISSION, message)


class _Budget:
    """The inspection's work so far, against its limits."""

    def __init__(self, limits: ArchiveLimits):
        self.limits, self.inflated = limits, 0
        self.deadline = time.monotonic() + limits.max_seconds

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise _reject(f"Checking this file took longer than {self.limits.max_seconds:g} s; a bundle's zip "
                          "should hold model.py and one weights file. " + WHAT_TO_SEND)

    def charge(self, nbytes: int) -> None:
        self.inflated += nbytes
        if self.inflated > self.limits.max_inflated:
            raise _reject(f"Checking this file would decompress more than {self.limits.max_inflated >> 20} MiB. "
                          "Put the weights into the zip uncompressed (zip -0, or zipfile.ZIP_STORED).")
        self.tick()


class _Metered:
    """A member being read, each byte charged to the budget."""

    def __init__(self, member: BinaryIO, budget: _Budget):
        self.member, self.budget = member, budget

    def read(self, n: int = -1) -> bytes:
        chunks, left = [], n
        while left != 0:
            chunk = self.member.read(1 << 20 if left < 0 else min(left, 1 << 20))
            if not chunk:
                break
            self.budget.charge(len(chunk))
            chunks.append(chunk)
            left = left - len(chunk) if left > 0 else left
        return b"".join(chunks)


class _Window:
    """Bytes [start, start + size) of a file, seekable: a stored member read in place, never copied."""

    def __init__(self, f: BinaryIO, start: int, size: int):
        self.f, self.start, self.size, self.pos = f, start, size, 0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass  # the outer file is its caller's

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = min(max(0, base + offset), self.size)
        return self.pos

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.pos if n is None or n < 0 else min(n, self.size - self.pos)
        self.f.seek(self.start + self.pos)
        data = self.f.read(n)
        self.pos += len(data)
        return data


def _open_zip(f: BinaryIO, max_entries: int) -> zipfile.ZipFile:
    """zipfile.ZipFile(f), once its central directory is known to hold at most `max_entries`
    entries (zipfile would parse any number of them first, at a few µs each)."""
    end = zipfile._EndRecData(f)
    if end is None:
        raise zipfile.BadZipFile("no end of central directory")
    size, start = end[zipfile._ECD_SIZE], end[zipfile._ECD_LOCATION] - end[zipfile._ECD_SIZE]
    if end[zipfile._ECD_SIGNATURE] == zipfile.stringEndArchive64:
        start -= zipfile.sizeEndCentDir64 + zipfile.sizeEndCentDir64Locator
    if not 0 <= start or start + size > f.seek(0, 2):  # zipfile would try to read (allocate) `size` bytes
        raise zipfile.BadZipFile("the central directory is larger than the file")
    f.seek(start)
    entries = f.read(size).count(zipfile.stringCentralDir)  # at least one per entry
    if entries > max_entries:
        raise _reject(f"The archive has {entries} entries; at most {max_entries} are accepted. {ONLY}")
    f.seek(0)
    return zipfile.ZipFile(f)


def _check_listing(zf: zipfile.ZipFile, limits: ArchiveLimits, max_entries: int) -> list[zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > max_entries:
        raise _reject(f"The archive has {len(infos)} entries; at most {max_entries} are accepted. {ONLY}")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise _reject(f"The archive holds two entries named {twice[:200]!r}. {REZIP}")
    total = 0
    for info in infos:
        name = info.filename
        shown = repr(name[:200])
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
            raise _reject(f"The archive entry {shown} points outside the archive; use plain relative names.")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _reject(f"The archive entry {shown} is a symbolic link; put the file itself in the zip.")
        if info.flag_bits & 0x1:
            raise _reject(f"The archive entry {shown} is encrypted. {REZIP}")
        if info.compress_type not in _METHODS:
            raise _reject(f"The archive entry {shown} uses compression method {info.compress_type}; the grader "
                          "reads deflate or no compression. " + REZIP)
        total += info.file_size
        if info.file_size > (1 << 20) and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise _reject(f"The archive entry {shown} expands {info.file_size // max(info.compress_size, 1)}×; "
                          f"that looks like a zip bomb. {ONLY}")
    if total > limits.max_uncompressed:
        raise _reject(f"The archive expands to {total:,} bytes; at most {limits.max_uncompressed:,} are accepted. "
                      + ONLY)
    return infos


def pickle_globals(data: bytes, budget: _Budget, name: str) -> set[str]:
    """The `module.name` globals a pickle would import, read from its opcodes (nothing is run)."""
    found: set[str] = set()
    strings: list[str] = []
    try:
        for count, (op, arg, _) in enumerate(pickletools.genops(data)):
            if count % 10_000 == 0:
                budget.tick()
                if count >= budget.limits.max_pickle_ops:
                    raise _reject(f"{name} holds more than {budget.limits.max_pickle_ops:,} pickle operations; "
                                  "a state_dict of a homework model needs far fewer. Save model.state_dict().")
            if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
                strings.append(arg)
            elif op.name == "GLOBAL":
                found.add(arg.replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.add(f"{strings[-2]}.{strings[-1]}")
    except (ValueError, UnicodeDecodeError, struct.error):  # what genops raises on a damaged pickle
        raise _reject(f"{name} is damaged: its pickle cannot be read. Save model.state_dict() with torch.save "
                      "again.") from None
    return found


def _read_small(zf: zipfile.ZipFile, name: str, limit: int, budget: _Budget) -> bytes:
    """An archive member of at most `limit` bytes (as declared, and as actually inflated)."""
    if zf.getinfo(name).file_size > limit:
        raise _reject(f"The archive entry {name[:200]!r} is larger than such an entry can be ({limit:,} bytes).")
    with zf.open(name) as member:
        data = _Metered(member, budget).read(limit + 1)
    if len(data) > limit:
        raise _reject(f"The archive entry {name[:200]!r} is larger than it claims.")
    return data


def _torch_zip_kind(zf: zipfile.ZipFile, names: list[str], budget: _Budget) -> str:
    """For a torch.save / TorchScript zip: 'torchscript', 'module' (pickled object) or 'state_dict'."""
    if any("/code/__torch__/" in n or n.startswith("code/__torch__/") for n in names):
        return "torchscript"
    pkl = next(n for n in names if n.endswith("data.pkl"))
    globs = pickle_globals(_read_small(zf, pkl, MAX_PICKLE_BYTES, budget), budget, pkl)
    if any(g.startswith(_MODULE_HINTS) or not g.startswith(_STATE_DICT_GLOBALS) for g in globs):
        return "module"
    return "state_dict"


def _data_start(f: BinaryIO, info: zipfile.ZipInfo) -> int:
    """Where a member's bytes begin: after its local header (zipfile has checked that header)."""
    f.seek(info.header_offset)
    header = f.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local header")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_length + extra_length


def _member_file(zf: zipfile.ZipFile, f: BinaryIO, info: zipfile.ZipInfo, budget: _Budget, name: str):
    """A seekable view of a member: a stored one in place; a compressed one inflated once, metered."""
    if info.compress_type == zipfile.ZIP_STORED:
        zf.open(info).close()  # checks the local header against the listing (name, encryption)
        return _Window(f, _data_start(f, info), info.file_size)
    if budget.inflated + info.file_size > budget.limits.max_inflated:
        budget.charge(info.file_size)  # refuses now, before inflating anything
    spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)
    with zf.open(info) as member:
        metered = _Metered(member, budget)
        while chunk := metered.read(1 << 20):
            spool.write(chunk)
    spool.seek(0)
    return spool


def _check_weights(zf: zipfile.ZipFile, f: BinaryIO, name: str, budget: _Budget) -> None:
    info = zf.getinfo(name)
    if name.endswith(".safetensors"):
        with zf.open(info) as member:  # only the header is read
            _check_safetensors(_Metered(member, budget), info.file_size, budget.tick)
        return
    not_torch = (f"{name} is not a file written by torch.save. Save model.state_dict() with torch.save or with "
                 "safetensors.torch.save_file.")
    with _member_file(zf, f, info, budget, name) as inner_file:
        try:
            inner = _open_zip(inner_file, budget.limits.max_nested_entries)
        except zipfile.BadZipFile:
            raise _reject(not_torch) from None
        limits = budget.limits
        inner_names = [i.filename for i in _check_listing(inner, limits, limits.max_nested_entries)]
        if not any(n.endswith("data.pkl") for n in inner_names):
            raise _reject(not_torch)
        kind = _torch_zip_kind(inner, inner_names, budget)
    if kind != "state_dict":
        raise _reject(f"{name} holds a pickled {('TorchScript program' if kind == 'torchscript' else 'object')}, "
                      "not a state_dict of tensors. Save model.state_dict() instead of the model.")


def _inspect(f: BinaryIO, filename: str, limits: ArchiveLimits) -> SubmissionInfo:
    budget = _Budget(limits)
    f.seek(0)
    magic = f.read(4)
    f.seek(0)
    if magic != b"PK\x03\x04":
        if filename.endswith(".safetensors"):
            raise _reject("Weights alone are not enough: the grader needs your model's code too. " + WHAT_TO_SEND)
        if filename.endswith(".onnx"):
            raise _reject("ONNX models are not accepted. " + WHAT_TO_SEND)
        raise _reject("This file is not a zip archive. " + WHAT_TO_SEND)
    # A .pt2 holds an entry per tensor and constant, like a torch.save zip; a bundle two files.
    zf = _open_zip(f, limits.max_nested_entries)
    infos = _check_listing(zf, limits, limits.max_nested_entries)
    names = [i.filename for i in infos if not i.is_dir()]
    total = sum(i.file_size for i in infos)
    if "model.py" in names:
        if len(infos) > limits.max_entries:
            raise _reject(f"The bundle has {len(infos)} entries; at most {limits.max_entries} are accepted. {ONLY}")
        weights = [n for n in names if "/" not in n and n.endswith(WEIGHT_SUFFIXES)]
        if len(weights) != 1:
            found = ", ".join(w[:100] for w in weights[:5]) or "none"
            raise _reject("A bundle needs exactly one weights file (.safetensors, .pt or .pth) beside model.py "
                          f"at the top of the zip; found {found}. Put model.py and that one file at the top of the zip.")
        zf.open("model.py").close()  # its local header must agree with the listing, as the loader's will
        _check_weights(zf, f, weights[0], budget)
        return SubmissionInfo(BUNDLE, weights[0], len(infos), total)
    formats = [n for n in names if PurePosixPath(n).name == "archive_format"]
    if formats and _read_small(zf, formats[0], 64, budget).strip() == b"pt2":
        return SubmissionInfo(EXPORT, None, len(infos), total)
    if any(n.endswith("data.pkl") for n in names):
        kind = _torch_zip_kind(zf, names, budget)
        if kind == "torchscript":
            raise _reject("TorchScript archives are not accepted. " + WHAT_TO_SEND)
        if kind == "module":
            raise _reject("This is a whole model pickled with torch.save(model); pickles can run code, so the "
                          "grader does not load them. " + WHAT_TO_SEND)
        raise _reject("This is a state_dict without the model's code. Zip it together with model.py. " + WHAT_TO_SEND)
    raise _reject("The zip has no model.py at its top level and is not a .pt2 program. " + WHAT_TO_SEND)


def inspect_submission(f: BinaryIO, filename: str = "", limits: ArchiveLimits = ArchiveLimits()) -> SubmissionInfo:
    """Classify and sanity-check a submission. Raises GradingError(invalid_submission) with a fix,
    and nothing else: a file zipfile cannot read is a damaged file, whatever the library raised."""
    try:
        return _inspect(f, filename, limits)
    except GradingError:
        raise
    except RuntimeError as e:  # zipfile: "... is encrypted, password required"
        if "encrypted" in str(e):
            raise _reject(f"The zip is encrypted. {REZIP}") from None
        raise _reject(f"The zip archive is damaged and cannot be read. {REZIP} " + WHAT_TO_SEND) from None
    except Exception:  # BadZipFile, zlib.error, EOFError, struct.error, OverflowError, NotImplementedError...
        raise _reject(f"The zip archive is damaged and cannot be read. {REZIP} " + WHAT_TO_SEND) from None


def submission_filename(kind: str) -> str:
    """The name the sandbox sees the submission under, whatever the student called it."""
    return "submission.pt2" if kind == EXPORT else "submission.zip"
