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
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO, cast

from .archive_reading import ONLY, ArchiveLimits, Budget, Metered, member_file, open_zip, reject
from .safetensors_header import check_header as _check_safetensors
from .safetensors_header import first_repeated
from .verdicts import GradingError

BUNDLE = "bundle"  # zip: model.py with build_model() + weights (.safetensors or a state_dict .pt)
EXPORT = "export"  # a torch.export program (.pt2)
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth")

WHAT_TO_SEND = (
    "Send either a bundle, a zip holding model.py (with build_model() returning your nn.Module) "
    "and the weights from model.state_dict() saved as .safetensors or .pt, or a torch.export "
    "program saved with torch.export.save(...) as .pt2."
)
REZIP = "Make the zip again with Python's zipfile or the zip command, without a password."

# Pickle globals a plain state_dict of tensors needs; anything else means a pickled object.
_STATE_DICT_GLOBALS = ("collections.OrderedDict", "torch._utils.", "torch.serialization.",
                       "torch.", "builtins.set")
_MODULE_HINTS = ("torch.nn.modules.", "__main__.", "torch.jit.", "torch.fx.")
# data.pkl of a state_dict holds names and shapes only (tensors are separate entries).
MAX_PICKLE_BYTES = 16 << 20
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what zip, zipfile and torch.save write


@dataclass(frozen=True)
class SubmissionInfo:
    kind: str
    weights: str | None = None  # the weights entry of a bundle
    entries: int = 0
    uncompressed_bytes: int = 0


_reject = reject


def _check_listing(zf: zipfile.ZipFile, limits: ArchiveLimits, max_entries: int) -> list[zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > max_entries:
        raise _reject(f"The archive has {len(infos)} entries; at most {max_entries} are accepted. {ONLY}")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        twice = first_repeated(names)
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


def pickle_globals(data: bytes, budget: Budget, name: str) -> set[str]:
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
                strings.append(cast(str, arg))  # these opcodes' argument is the string
            elif op.name == "GLOBAL":
                found.add(cast(str, arg).replace(" ", "."))  # "module name"
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.add(f"{strings[-2]}.{strings[-1]}")
    except (ValueError, UnicodeDecodeError, struct.error):  # what genops raises on a damaged pickle
        raise _reject(f"{name} is damaged: its pickle cannot be read. Save model.state_dict() with torch.save "
                      "again.") from None
    return found


def _read_small(zf: zipfile.ZipFile, name: str, limit: int, budget: Budget) -> bytes:
    """An archive member of at most `limit` bytes (as declared, and as actually inflated)."""
    if zf.getinfo(name).file_size > limit:
        raise _reject(f"The archive entry {name[:200]!r} is larger than such an entry can be ({limit:,} bytes).")
    with zf.open(name) as member:
        data = Metered(member, budget).read(limit + 1)
    if len(data) > limit:
        raise _reject(f"The archive entry {name[:200]!r} is larger than it claims.")
    return data


def _torch_zip_kind(zf: zipfile.ZipFile, names: list[str], budget: Budget) -> str:
    """For a torch.save / TorchScript zip: 'torchscript', 'module' (pickled object) or 'state_dict'."""
    if any("/code/__torch__/" in n or n.startswith("code/__torch__/") for n in names):
        return "torchscript"
    pkl = next(n for n in names if n.endswith("data.pkl"))
    globs = pickle_globals(_read_small(zf, pkl, MAX_PICKLE_BYTES, budget), budget, pkl)
    if any(g.startswith(_MODULE_HINTS) or not g.startswith(_STATE_DICT_GLOBALS) for g in globs):
        return "module"
    return "state_dict"


def _check_weights(zf: zipfile.ZipFile, f: BinaryIO, name: str, budget: Budget) -> None:
    info = zf.getinfo(name)
    if name.endswith(".safetensors"):
        with zf.open(info) as member:  # only the header is read
            _check_safetensors(Metered(member, budget), info.file_size, budget.tick)
        return
    not_torch = (f"{name} is not a file written by torch.save. Save model.state_dict() with torch.save or with "
                 "safetensors.torch.save_file.")
    with member_file(zf, f, info, budget, name) as inner_file:
        try:
            inner = open_zip(inner_file, budget.limits.max_nested_entries)
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
    budget = Budget(limits)
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
    zf = open_zip(f, limits.max_nested_entries)
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
                          f"at the top of the zip; found {found}. "
                          "Put model.py and that one file at the top of the zip.")
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
