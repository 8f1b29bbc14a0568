"""Reading a submission's zip with bounded work: how many entries it may list (counted before
zipfile parses them), how many bytes may be decompressed, how long it may take. A stored member is
read in place; a compressed one is inflated at most once, metered. Used by basin_grader.formats."""
from __future__ import annotations

import struct
import tempfile
import time
import zipfile
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

from .verdicts import INVALID_SUBMISSION, GradingError

ONLY = "Send a zip of model.py and the one weights file from model.state_dict()."


def reject(message: str) -> GradingError:
    return GradingError(INVALID_SUBMISSION, message)


@dataclass(frozen=True)
class ArchiveLimits:
    max_entries: int = 64  # a bundle's
    max_nested_entries: int = 20_000  # a .pt2's or torch.save zip's: about one entry per tensor
    max_uncompressed: int = 2 << 30  # declared, all entries together
    max_ratio: int = 100  # uncompressed / compressed, for entries over 1 MiB (zip bombs)
    max_inflated: int = 64 << 20  # bytes decompressed while inspecting: a deflated .pt of a 50 MB upload
    max_pickle_ops: int = 500_000  # a state_dict needs ~25 per tensor
    max_seconds: float = 5.0



class Budget:
    """The inspection's work so far, against its limits."""

    def __init__(self, limits: ArchiveLimits):
        self.limits, self.inflated = limits, 0
        self.deadline = time.monotonic() + limits.max_seconds

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise reject(f"Checking this file took longer than {self.limits.max_seconds:g} s. {ONLY}")

    def charge(self, nbytes: int) -> None:
        self.inflated += nbytes
        if self.inflated > self.limits.max_inflated:
            raise reject(f"Checking this file would decompress more than {self.limits.max_inflated >> 20} MiB. "
                          "Put the weights into the zip uncompressed (zip -0, or zipfile.ZIP_STORED).")
        self.tick()


class Metered:
    """A member being read, each byte charged to the budget."""

    def __init__(self, member: IO[bytes], budget: Budget):
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


class Window:
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


# zipfile's own reader of the end-of-central-directory record, and that record's layout: private,
# so typeshed's stubs leave them out.
_zipfile: Any = zipfile


def open_zip(f: BinaryIO, max_entries: int) -> zipfile.ZipFile:
    """zipfile.ZipFile(f), once its central directory is known to hold at most `max_entries`
    entries (zipfile would parse any number of them first, at a few µs each)."""
    end = _zipfile._EndRecData(f)
    if end is None:
        raise zipfile.BadZipFile("no end of central directory")
    size, start = end[_zipfile._ECD_SIZE], end[_zipfile._ECD_LOCATION] - end[_zipfile._ECD_SIZE]
    if end[_zipfile._ECD_SIGNATURE] == _zipfile.stringEndArchive64:
        start -= _zipfile.sizeEndCentDir64 + _zipfile.sizeEndCentDir64Locator
    if not 0 <= start or start + size > f.seek(0, 2):  # zipfile would try to read (allocate) `size` bytes
        raise zipfile.BadZipFile("the central directory is larger than the file")
    f.seek(start)
    entries = f.read(size).count(_zipfile.stringCentralDir)  # at least one per entry
    if entries > max_entries:
        raise reject(f"The archive has {entries} entries; at most {max_entries} are accepted. {ONLY}")
    f.seek(0)
    return zipfile.ZipFile(f)


def data_start(f: BinaryIO, info: zipfile.ZipInfo) -> int:
    """Where a member's bytes begin: after its local header (zipfile has checked that header)."""
    f.seek(info.header_offset)
    header = f.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local header")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_length + extra_length


def member_file(zf: zipfile.ZipFile, f: BinaryIO, info: zipfile.ZipInfo, budget: Budget, name: str):
    """A seekable view of a member: a stored one in place; a compressed one inflated once, metered."""
    if info.compress_type == zipfile.ZIP_STORED:
        zf.open(info).close()  # checks the local header against the listing (name, encryption)
        return Window(f, data_start(f, info), info.file_size)
    if budget.inflated + info.file_size > budget.limits.max_inflated:
        budget.charge(info.file_size)  # refuses now, before inflating anything
    spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)
    with zf.open(info) as member:
        metered = Metered(member, budget)
        while chunk := metered.read(1 << 20):
            spool.write(chunk)
    spool.seek(0)
    return spool
