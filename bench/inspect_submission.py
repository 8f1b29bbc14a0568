"""What a hostile upload costs the web's format check, against a normal upload, in one run.

    python bench/inspect_submission.py [--repeat 3]

`inspect_submission` runs in the web process for every upload (and in the worker and `basin
check`). Each row is one file, built here, inspected `--repeat` times; it prints the median CPU
seconds, the verdict, and the ratio to the normal bundle's median. The worst rows are what a
hostile student can make the web pay per upload: a bundle whose weights.pt inflates to 1 GiB
(issue 14's was 5.5 MB, a ratio of ~190, under the old zip-bomb check), a data.pkl of millions of pickle
opcodes, central directories of 68,750 and 19,999 entries, a 16 MiB safetensors header of tiny tensors.
Run it with PYTHONPATH pointing at an older grader to measure that one.
"""
from __future__ import annotations

import argparse
import io
import random
import statistics
import struct
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.factories and the zip writer the tests use

from basin_grader.formats import inspect_submission  # noqa: E402
from basin_grader.verdicts import GradingError  # noqa: E402
from tests import factories  # noqa: E402
from tests.grader.zipcraft import Entry, build  # noqa: E402

MODEL = factories.BASELINE_SOURCE.encode()


def inflating_weights(inflated: int = 1 << 30, random_per_mib: int = 5400) -> bytes:
    """A bundle whose deflated weights.pt is a stored torch-style zip of `inflated` bytes: each
    MiB has `random_per_mib` random bytes, so the whole compresses ~190×."""
    rng = random.Random(14)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.py", MODEL)
        with zf.open("weights.pt", "w", force_zip64=True) as weights:
            with zipfile.ZipFile(weights, "w", zipfile.ZIP_STORED) as inner:
                with inner.open("archive/data/0", "w", force_zip64=True) as blob:
                    chunk = bytearray(1 << 20)
                    for _ in range(inflated >> 20):
                        chunk[:random_per_mib] = rng.randbytes(random_per_mib)
                        blob.write(chunk)
                inner.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    return outer.getvalue()


def pickle_opcodes(megabytes: int = 15) -> bytes:
    pkl = b"\x80\x02" + b"N0" * (megabytes << 19) + b"N."
    return build([Entry(b"model.py", MODEL), Entry(b"weights.pt", build([Entry(b"a/data.pkl", pkl)]))])


def many_entries(upload_bytes: int = 5_500_000) -> bytes:
    return build([Entry(b"%x" % i) for i in range(upload_bytes // 80)])


def big_header(header_bytes: int = 16 << 20) -> bytes:
    entry = '"t{}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'
    parts, size, i = [], 2, 0
    while size < header_bytes - 80:
        parts.append(entry.format(i))
        size += len(parts[-1]) + 1
        i += 1
    header = ("{" + ",".join(parts) + "}").encode()
    weights = struct.pack("<Q", len(header)) + header
    return build([Entry(b"model.py", MODEL), Entry(b"weights.safetensors", weights)])


def timed(data: bytes, repeat: int) -> tuple[float, str]:
    times, verdict = [], ""
    for _ in range(repeat):
        started = time.process_time()
        try:
            verdict = "accepted: " + inspect_submission(io.BytesIO(data), "submission.zip").kind
        except GradingError as e:
            verdict = f"{e.verdict}: {e.message[:70]}"
        except Exception as e:  # an older grader: the crash is the result
            verdict = f"CRASH {type(e).__name__}"
        times.append(time.process_time() - started)
    return statistics.median(times), verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import basin_grader

    print(f"grader: {Path(basin_grader.__file__).parent}  (cpu seconds, median of {args.repeat})")
    rows = [("normal bundle, safetensors", factories.bundle()),
            ("normal bundle, deflated .pt", factories.bundle(weights_name="weights.pt")),
            ("weights.pt: 1 GiB at ratio 147", inflating_weights()),
            ("weights.pt: 1 GiB at ratio 90", inflating_weights(random_per_mib=11_000)),
            ("weights.pt: 63 MiB at ratio 99", inflating_weights(63 << 20, random_per_mib=10_000)),
            ("data.pkl of 7.8M pickle opcodes", pickle_opcodes()),
            ("central directory of 68,750 entries", many_entries()),
            ("central directory of 19,999 entries", many_entries(19_999 * 80)),
            ("16 MiB safetensors header", big_header()),
            ("1 MiB safetensors header", big_header(1 << 20))]
    base = None
    for name, data in rows:
        seconds, verdict = timed(data, args.repeat)
        base = base or max(seconds, 1e-6)
        print(f"{name:38s} {len(data) / 1e6:7.2f} MB  {seconds:8.4f} s  {seconds / base:9.1f}×  {verdict}")


if __name__ == "__main__":
    main()
