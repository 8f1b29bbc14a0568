"""What a submission file is, decided without deserializing it.

The web, the `basin check` command and the sandbox runtime all call `inspect_submission`, so a
student hears the same verdict everywhere. It reads zip listings, safetensors headers and
pickle *opcodes* (never executing them); real loading happens only inside the sandbox.
"""
from __future__ import annotations

import json
import pickletools
import stat
import struct
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from .verdicts import INVALID_SUBMISSION, GradingError

BUNDLE = "bundle"  # zip: model.py with build_model() + weights (.safetensors or a state_dict .pt)
EXPORT = "export"  # a torch.export program (.pt2)
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth")

WHAT_TO_SEND = (
    "Send either a bundle, a zip holding model.py (with build_model() returning your nn.Module) "
    "and the weights from model.state_dict() saved as .safetensors or .pt, or a torch.export "
    "program saved with torch.export.save(...) as .pt2."
)

_SAFETENSORS_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2,
                         "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
# Pickle globals a plain state_dict of tensors needs; anything else means a pickled object.
_STATE_DICT_GLOBALS = ("collections.OrderedDict", "torch._utils.", "torch.serialization.",
                       "torch.", "builtins.set")
_MODULE_HINTS = ("torch.nn.modules.", "__main__.", "torch.jit.", "torch.fx.")
# data.pkl of a state_dict holds names and shapes only (tensors are separate entries).
MAX_PICKLE_BYTES = 16 << 20


@dataclass(frozen=True)
class ArchiveLimits:
    max_entries: int = 64
    max_uncompressed: int = 2 << 30
    max_ratio: int = 200  # uncompressed / compressed, for entries over 1 MiB (zip bombs)


@dataclass(frozen=True)
class SubmissionInfo:
    kind: str
    weights: str | None = None  # the weights entry of a bundle
    entries: int = 0
    uncompressed_bytes: int = 0


def _reject(message: str) -> GradingError:
    return GradingError(INVALID_SUBMISSION, message)


def _check_listing(zf: zipfile.ZipFile, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise _reject(f"The archive has {len(infos)} entries; at most {limits.max_entries} are accepted.")
    total = 0
    for info in infos:
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
            raise _reject(f"The archive entry {name!r} points outside the archive; use plain relative names.")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _reject(f"The archive entry {name!r} is a symbolic link; put the file itself in the zip.")
        total += info.file_size
        if info.file_size > (1 << 20) and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise _reject(f"The archive entry {name!r} expands {info.file_size // max(info.compress_size, 1)}×; "
                          "that looks like a zip bomb.")
    if total > limits.max_uncompressed:
        raise _reject(f"The archive expands to {total:,} bytes; at most {limits.max_uncompressed:,} are accepted.")
    return infos


def check_safetensors_header(f: BinaryIO, size: int) -> dict:
    """Validate a safetensors header (length, JSON, dtypes, shapes, offsets) without reading tensors."""
    head = f.read(8)
    if len(head) < 8:
        raise _reject("The .safetensors file is truncated.")
    (n,) = struct.unpack("<Q", head)
    if n > min(size - 8, 100 << 20):
        raise _reject("The .safetensors header is larger than the file; the file is damaged or not safetensors.")
    try:
        header = json.loads(f.read(n))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _reject("The .safetensors header is not valid JSON; save the weights with safetensors.torch.save_file.")
    if not isinstance(header, dict):
        raise _reject("The .safetensors header is not a JSON object.")
    data_size = size - 8 - n
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
            count = 1
            for d in shape:
                if not isinstance(d, int) or d < 0:
                    raise ValueError
                count *= d
            ok = (dtype in _SAFETENSORS_ITEMSIZE and 0 <= begin <= end <= data_size
                  and end - begin == count * _SAFETENSORS_ITEMSIZE[dtype])
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise _reject(f"The .safetensors entry {key!r} has an invalid dtype, shape or offsets.")
    return header


def pickle_globals(data: bytes) -> set[str]:
    """The `module.name` globals a pickle would import, read from its opcodes (nothing is run)."""
    found: set[str] = set()
    strings: list[str] = []
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
                strings.append(arg)
            elif op.name == "GLOBAL":
                found.add(arg.replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.add(f"{strings[-2]}.{strings[-1]}")
    except Exception:  # a truncated or corrupt pickle: the sandbox's loader will say so
        pass
    return found


def _read_small(zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """An archive member of at most `limit` bytes (as declared, and as actually inflated)."""
    if zf.getinfo(name).file_size > limit:
        raise _reject(f"The archive entry {name!r} is larger than such an entry can be ({limit:,} bytes).")
    with zf.open(name) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise _reject(f"The archive entry {name!r} is larger than it claims.")
    return data


def _torch_zip_kind(zf: zipfile.ZipFile, names: list[str]) -> str:
    """For a torch.save / TorchScript zip: 'torchscript', 'module' (pickled object) or 'state_dict'."""
    if any("/code/__torch__/" in n or n.startswith("code/__torch__/") for n in names):
        return "torchscript"
    pkl = next(n for n in names if n.endswith("data.pkl"))
    globs = pickle_globals(_read_small(zf, pkl, MAX_PICKLE_BYTES))
    if any(g.startswith(_MODULE_HINTS) or not g.startswith(_STATE_DICT_GLOBALS) for g in globs):
        return "module"
    return "state_dict"


def _check_weights(zf: zipfile.ZipFile, name: str, limits: ArchiveLimits) -> None:
    info = zf.getinfo(name)
    with zf.open(info) as member:  # streamed: nothing here holds a whole member in memory
        if name.endswith(".safetensors"):
            check_safetensors_header(member, info.file_size)
            return
        try:
            inner = zipfile.ZipFile(member)
            inner_names = [i.filename for i in _check_listing(inner, ArchiveLimits(
                max_entries=100_000, max_uncompressed=limits.max_uncompressed, max_ratio=limits.max_ratio))]
        except zipfile.BadZipFile:
            raise _reject(f"{name} is not a file written by torch.save; save model.state_dict() with torch.save "
                          "or with safetensors.torch.save_file.")
        if not any(n.endswith("data.pkl") for n in inner_names):
            raise _reject(f"{name} is not a file written by torch.save.")
        kind = _torch_zip_kind(inner, inner_names)
    if kind != "state_dict":
        raise _reject(f"{name} holds a pickled {('TorchScript program' if kind == 'torchscript' else 'object')}, "
                      "not a state_dict of tensors. Save model.state_dict() instead of the model.")


def inspect_submission(f: BinaryIO, filename: str = "", limits: ArchiveLimits = ArchiveLimits()) -> SubmissionInfo:
    """Classify and sanity-check a submission. Raises GradingError(invalid_submission) with a fix."""
    f.seek(0)
    magic = f.read(4)
    f.seek(0)
    if magic != b"PK\x03\x04":
        if filename.endswith(".safetensors"):
            raise _reject("Weights alone are not enough: the grader needs your model's code too. " + WHAT_TO_SEND)
        if filename.endswith(".onnx"):
            raise _reject("ONNX models are not accepted. " + WHAT_TO_SEND)
        raise _reject("This file is not a zip archive. " + WHAT_TO_SEND)
    try:
        zf = zipfile.ZipFile(f)
        infos = _check_listing(zf, limits)
    except zipfile.BadZipFile:
        raise _reject("The zip archive is damaged. " + WHAT_TO_SEND)
    names = [i.filename for i in infos if not i.is_dir()]
    total = sum(i.file_size for i in infos)
    if "model.py" in names:
        weights = [n for n in names if "/" not in n and n.endswith(WEIGHT_SUFFIXES)]
        if len(weights) != 1:
            found = ", ".join(weights) or "none"
            raise _reject("A bundle needs exactly one weights file (.safetensors, .pt or .pth) beside model.py "
                          f"at the top of the zip; found {found}.")
        _check_weights(zf, weights[0], limits)
        return SubmissionInfo(BUNDLE, weights[0], len(infos), total)
    if any(PurePosixPath(n).name == "archive_format" for n in names):
        fmt_entry = next(n for n in names if PurePosixPath(n).name == "archive_format")
        if _read_small(zf, fmt_entry, 64).strip() == b"pt2":
            return SubmissionInfo(EXPORT, None, len(infos), total)
    if any(n.endswith("data.pkl") for n in names):
        kind = _torch_zip_kind(zf, names)
        if kind == "torchscript":
            raise _reject("TorchScript archives are not accepted. " + WHAT_TO_SEND)
        if kind == "module":
            raise _reject("This is a whole model pickled with torch.save(model); pickles can run code, so the "
                          "grader does not load them. " + WHAT_TO_SEND)
        raise _reject("This is a state_dict without the model's code. Zip it together with model.py. " + WHAT_TO_SEND)
    raise _reject("The zip has no model.py at its top level and is not a .pt2 program. " + WHAT_TO_SEND)


def submission_filename(kind: str) -> str:
    """The name the sandbox sees the submission under, whatever the student called it."""
    return "submission.pt2" if kind == EXPORT else "submission.zip"
