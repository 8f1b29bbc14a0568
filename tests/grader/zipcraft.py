"""Zip archives written byte by byte, so a test can make every field lie (zipfile refuses to)."""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass


@dataclass
class Entry:
    name: bytes
    data: bytes = b""
    method: int = 0  # 0 stored, 8 deflate, anything else: a method nobody reads
    flags: int = 0  # bit 0 encrypted, bit 11 UTF-8 name
    local_name: bytes | None = None  # the local header's name, when it should differ from the listing
    external_attr: int = 0o100644 << 16
    file_size: int | None = None  # as declared in the listing (default: the truth)
    compress_size: int | None = None
    extra: bytes = b""
    raw: bytes | None = None  # the body as written, when it should not be data compressed


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def build(entries: list[Entry], comment: bytes = b"", count: int | None = None) -> bytes:
    out, central = bytearray(), bytearray()
    for e in entries:
        body = e.raw if e.raw is not None else deflate(e.data) if e.method == 8 else e.data
        crc = zlib.crc32(e.data)
        size = len(e.data) if e.file_size is None else e.file_size
        csize = len(body) if e.compress_size is None else e.compress_size
        local_name = e.name if e.local_name is None else e.local_name
        offset = len(out)
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, e.flags, e.method, 0, 0x21, crc,
                           min(csize, 0xFFFFFFFF), min(size, 0xFFFFFFFF), len(local_name), len(e.extra))
        out += local_name + e.extra + body
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 0x031E, 20, e.flags, e.method, 0, 0x21, crc,
                               min(csize, 0xFFFFFFFF), min(size, 0xFFFFFFFF), len(e.name), len(e.extra), 0, 0, 0,
                               e.external_attr, offset)
        central += e.name + e.extra
    n = len(entries) if count is None else count
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, min(n, 0xFFFF), min(n, 0xFFFF), len(central), len(out),
                      len(comment))
    return bytes(out + central + end + comment)


def safetensors(header: bytes, data: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header)) + header + data


def bundle_with_weights(weights: bytes, name: bytes = b"weights.safetensors", method: int = 0) -> bytes:
    return build([Entry(b"model.py", b"def build_model():\n    pass\n"), Entry(name, weights, method=method)])
