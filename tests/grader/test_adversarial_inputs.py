"""Hostile files at the format check: whatever a student uploads, the web, `basin check` and the
worker answer invalid_submission with a plain message (never a traceback), with bounded work, and
the safetensors check refuses whatever the real loader refuses."""
from __future__ import annotations

import io
import json
import pickle
import random
import resource
import struct
import time
import zipfile

import pytest
import torch
from safetensors import SafetensorError
from safetensors.torch import load as safetensors_load

from basin_grader.archive_reading import ArchiveLimits
from basin_grader.formats import inspect_submission
from basin_grader.safetensors_header import check_header
from basin_grader.verdicts import INVALID_SUBMISSION, GradingError
from tests import factories
from tests.grader.test_adversarial import pickled_payload_bundle, saved, torchscript, zipped
from tests.grader.zipcraft import Entry, build, bundle_with_weights, safetensors

MODEL = b"def build_model():\n    pass\n"


def refused(data: bytes, name: str = "submission.zip", limits: ArchiveLimits = ArchiveLimits()) -> str:
    with pytest.raises(GradingError) as caught:
        inspect_submission(io.BytesIO(data), name, limits)
    assert caught.value.verdict == INVALID_SUBMISSION
    message = caught.value.message
    assert "Traceback" not in message and len(message) < 1500
    return message


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def weights_header(entries: dict, data: bytes = b"\0" * 12) -> bytes:
    return bundle_with_weights(safetensors(json.dumps(entries).encode(), data))


F32x3 = {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}

CRASHES = {
    "encrypted entry flag": build([Entry(b"model.py", MODEL, flags=1), Entry(b"weights.safetensors")]),
    "encrypted weights": build([Entry(b"model.py", MODEL), Entry(b"weights.pt", b"x" * 40, flags=1)]),
    "unknown compression method": build([Entry(b"model.py", MODEL, method=99), Entry(b"weights.safetensors")]),
    "bzip2 weights": build([Entry(b"model.py", MODEL), Entry(b"weights.pt", b"x", method=12)]),
    "local name differs from the listing": build([Entry(b"model.py", MODEL, local_name=b"evil.py"),
                                                  Entry(b"weights.safetensors", safetensors(b"{}"))]),
    "weights' local name differs": build([Entry(b"model.py", MODEL),
                                          Entry(b"weights.pt", saved({}), local_name=b"weights.px")]),
    "4,301-digit integer in the header": bundle_with_weights(safetensors(
        b'{"x":{"dtype":"F32","shape":[' + b"9" * 4301 + b'],"data_offsets":[0,12]}}', b"\0" * 12)),
    "huge integer offsets": bundle_with_weights(safetensors(b'{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,'
                                                            + b"1" * 5000 + b"]}}")),
    "UTF-16 header": bundle_with_weights(safetensors('{"x": 1}'.encode("utf-16"))),
    "deep JSON": bundle_with_weights(safetensors(b'{"x":' + b"[" * 50_000 + b"]" * 50_000 + b"}")),
    "non-UTF-8 name flagged UTF-8": build([Entry(b"model.py", MODEL), Entry(b"w\xff\xfe.pt", b"x", flags=0x800)]),
    "central directory larger than the file": build([Entry(b"model.py", MODEL)])[:-22] + struct.pack(
        "<4s4H2IH", b"PK\x05\x06", 0, 0, 1, 1, 0xFFFFFFF0, 0, 0),
    "declared size beyond the data": build([Entry(b"model.py", MODEL),
                                            Entry(b"weights.pt", b"abc", compress_size=1 << 30)]),
    "zip64 sizes without a zip64 extra": build([Entry(b"model.py", MODEL),
                                                Entry(b"weights.pt", b"abc", file_size=0xFFFFFFFF,
                                                      compress_size=0xFFFFFFFF)]),
    "zip64 extra with absurd sizes": build([Entry(b"model.py", MODEL), Entry(
        b"weights.pt", b"abc", file_size=0xFFFFFFFF, compress_size=0xFFFFFFFF,
        extra=struct.pack("<HHQQ", 1, 16, (1 << 63) + 5, (1 << 63) + 3))]),
    "zip64 extra too short": build([Entry(b"model.py", MODEL), Entry(b"weights.pt", b"abc", file_size=0xFFFFFFFF,
                                                                     extra=struct.pack("<HHI", 1, 4, 7))]),
    "truncated deflate stream": build([Entry(b"model.py", MODEL),
                                       Entry(b"weights.pt", saved({}), method=8, compress_size=20)]),
    "deflate garbage": build([Entry(b"model.py", MODEL), Entry(b"weights.pt", b"\xff" * 64, method=8,
                                                                compress_size=None)]),
    "damaged pickle in the weights": zipped({"model.py": MODEL,
                                             "weights.pt": zipped({"a/data.pkl": b"\x80\x02}q\x00(X"})}),
    "duplicate model.py": build([Entry(b"model.py", MODEL), Entry(b"model.py", b"import os"),
                                 Entry(b"weights.safetensors", safetensors(b"{}"))]),
    "weights that are a directory": build([Entry(b"model.py", MODEL),
                                           Entry(b"weights.pt/", external_attr=0o40755 << 16)]),
    "symlink weights": build([Entry(b"model.py", MODEL), Entry(b"weights.pt", b"/etc/passwd",
                                                              external_attr=0o120777 << 16)]),
}


@pytest.mark.parametrize("data", CRASHES.values(), ids=CRASHES.keys())
def test_a_malformed_zip_is_an_invalid_submission_with_a_plain_message(data):
    message = refused(data)
    assert any(fix in message.lower() for fix in ("send", "save", "make the zip", "put", "use")), message


# Mutations a damaged or hostile file may carry, applied to real submissions.
def _flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def _splice(data: bytes, rng: random.Random) -> bytes:
    """Overwrite a header field with an extreme value (sizes, counts, offsets, flags)."""
    out = bytearray(data)
    at = rng.choice([i for i in range(len(out) - 4) if out[i:i + 2] == b"PK"] or [0])
    field = at + rng.choice([6, 8, 10, 18, 22, 26, 28, 30, 34, 38, 42])
    value = rng.choice([0, 1, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, rng.getrandbits(32)])
    out[field:field + 4] = struct.pack("<I", value)[: len(out[field:field + 4])]
    return bytes(out)


def _header_mutation(data: bytes, rng: random.Random) -> bytes:
    header = rng.choice([b"{" * 3000, b'{"a":{"dtype":"F32","shape":[' + b"7" * 4400 + b'],"data_offsets":[0,4]}}',
                         b'{"\xed\xa0\x80":1}', b'{"a":NaN}', b'{"a":{"dtype":"F32","shape":[1e400]}}',
                         bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))])
    return bundle_with_weights(safetensors(header, b"\0" * rng.randint(0, 16)), method=rng.choice([0, 8]))


def _names(data: bytes, rng: random.Random) -> bytes:
    name = rng.choice(["módel.py", "model.py\u202e", "weights\x00.pt", "con:weights.pt", "a" * 60_000, "..\\x.pt",
                       "weights.pt/", "\udcff.pt", "📦/weights.pt"])
    raw = name.encode("utf-8", "surrogateescape")
    return build([Entry(b"model.py", MODEL), Entry(raw, b"w", flags=rng.choice([0, 0x800]),
                                                   external_attr=rng.choice([0, 0o120777 << 16, 0o40755 << 16]))])


def _duplicates(data: bytes, rng: random.Random) -> bytes:
    return build([Entry(b"model.py", MODEL)] + [Entry(b"weights.pt", saved({}))] * rng.randint(2, 3))


MUTATIONS = [lambda d, r: d[: r.randrange(len(d))], _flip, _splice, _header_mutation, _names, _duplicates,
             lambda d, r: d + bytes(r.getrandbits(8) for _ in range(r.randint(1, 200))),
             lambda d, r: b"PK\x03\x04" + bytes(r.getrandbits(8) for _ in range(r.randint(0, 4000)))]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> list[tuple[str, bytes]]:
    program = factories.export_program(factories.baseline_state(), tmp_path_factory.mktemp("pt2") / "model.pt2")
    return [("safetensors bundle", factories.bundle()), ("pt bundle", factories.bundle(weights_name="weights.pt")),
            ("stored pt bundle", build([Entry(b"model.py", MODEL),
                                                       Entry(b"weights.pt", saved(factories.baseline_state()))])),
            ("pt2", program.read_bytes()), ("pickled module", saved(torch.nn.Linear(2, 2))),
            ("torchscript", torchscript()), ("pickle payload", pickled_payload_bundle())]


def test_fuzzed_submissions_only_ever_give_invalid_submission(seeds):
    rng = random.Random(20261207)
    slowest = 0.0
    for i in range(600):
        seed_name, seed = rng.choice(seeds)
        mutate = rng.choice(MUTATIONS)
        data = mutate(seed, rng)
        started = time.monotonic()
        try:
            inspect_submission(io.BytesIO(data), rng.choice(["submission.zip", "model.pt2", "w.safetensors"]))
        except GradingError as e:
            assert e.verdict == INVALID_SUBMISSION, (i, seed_name, e.verdict)
            assert "Traceback" not in e.message
        except BaseException as e:  # anything else is the crash this test exists for
            pytest.fail(f"case {i} ({seed_name}, {getattr(mutate, '__name__', 'lambda')}) raised "
                        f"{type(e).__name__}: {e!s:.200}")
        slowest = max(slowest, time.monotonic() - started)
    assert slowest < ArchiveLimits().max_seconds + 1


def test_a_deflated_bomb_within_the_ratio_is_refused_before_inflating():
    """The issue's 5.5 MB upload whose weights.pt inflates to 1 GiB, at a ratio under the bomb check."""
    junk = random.Random(1).randbytes(11 << 20)  # compressed bytes: never inflated
    data = build([Entry(b"model.py", MODEL), Entry(b"weights.pt", method=8, file_size=1 << 30, raw=junk)])
    before = cpu_seconds()
    assert "uncompressed" in refused(data)
    assert cpu_seconds() - before < 0.5


def stored(entries: dict[str, bytes]) -> bytes:
    return build([Entry(name.encode(), data) for name, data in entries.items()])


def test_inflation_is_metered_against_the_limit():
    inner = stored({"w/data.pkl": pickle.dumps({}),
                    "w/data/0": random.Random(2).randbytes(1 << 20) + b"\0" * (20 << 20)})
    data = zipped({"model.py": MODEL, "weights.pt": inner})
    assert "uncompressed" in refused(data, limits=ArchiveLimits(max_inflated=8 << 20))
    assert inspect_submission(io.BytesIO(factories.bundle(weights_name="weights.pt")), "s.zip").weights == "weights.pt"


def test_a_pickle_of_millions_of_opcodes_is_refused_quickly():
    data = stored({"model.py": MODEL, "weights.pt": stored({"a/data.pkl": b"\x80\x02" + b"N0" * (7 << 20) + b"N."})})
    before = cpu_seconds()
    assert "pickle operations" in refused(data)
    assert cpu_seconds() - before < 1.5


def test_a_central_directory_of_a_million_entries_is_refused_before_it_is_parsed():
    data = build([Entry(b"%d" % i) for i in range(300_000)])
    before = cpu_seconds()
    assert "entries" in refused(data)
    assert cpu_seconds() - before < 0.5


# The safetensors check against the real loader: whatever it refuses is refused at inspection.
def _variants(rng: random.Random) -> list[bytes]:
    good = {"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
            "b": {"dtype": "I64", "shape": [], "data_offsets": [24, 32]}}
    cases = []
    edits = [("a", "shape", [True, 3]), ("a", "shape", [2.0, 3]), ("a", "shape", [-2, -3]), ("a", "shape", [6]),
             ("a", "shape", [2, 3, 0]), ("a", "dtype", "F4"), ("a", "dtype", "f32"), ("a", "dtype", "C64"),
             ("a", "dtype", "F8_E8M0"), ("a", "data_offsets", [0, 24, 1]), ("a", "data_offsets", [8, 32]),
             ("a", "data_offsets", [0, 25]), ("b", "data_offsets", [25, 33]), ("b", "data_offsets", [24, 24]),
             ("a", "extra", 1), ("a", "shape", [1 << 64, 1]), ("a", "shape", [1 << 40, 1 << 40]),
             ("a", "data_offsets", "0,24")]
    for key, field, value in edits:
        header = json.loads(json.dumps(good))
        header[key][field] = value
        cases.append(json.dumps(header).encode())
    text = json.dumps(good)
    cases += [text.replace('"a"', '"\\ud800"').encode(), b'{"__metadata__": {"k": 1}, ' + text[1:].encode(),
              b'{"__metadata__": {"k": "v"}, ' + text[1:].encode(), b'{"__metadata__": null, ' + text[1:].encode(),
              b'{"__metadata__": [], ' + text[1:].encode(), text.encode() + b"   ", text.encode() + b" x",
              text[:-1].encode() + b', "a": ' + json.dumps(good["a"]).encode() + b"}", b"\xef\xbb\xbf" + text.encode(),
              text.encode().replace(b"[2, 3]", b"[2, 3" + b"]" * 0), b"[]", b"{}", b'{"a": NaN}']
    for _ in range(200):
        raw = bytearray(text.encode())
        for _ in range(rng.randint(1, 3)):
            raw[rng.randrange(len(raw))] = rng.choice(b'{}[],:"0123456789-eE.tfn \\ab\xff')
        cases.append(bytes(raw))
    return cases


def test_the_safetensors_check_refuses_whatever_the_real_loader_refuses():
    rng = random.Random(7)
    disagreements = []
    for header in _variants(rng):
        for data in (b"\0" * 32, b"\0" * 31, b"\0" * 40, b""):
            blob = safetensors(header, data)
            try:
                safetensors_load(blob)
                loads = True
            except Exception:
                loads = False
            try:
                check_header(io.BytesIO(blob), len(blob))
                passes = True
            except GradingError as e:
                assert e.verdict == INVALID_SUBMISSION
                passes = False
            if passes and not loads:
                disagreements.append((header[:120], len(data)))
    assert not disagreements


@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8, torch.int8, torch.float8_e4m3fn, torch.float8_e5m2,
                                   torch.int16, torch.uint16, torch.float16, torch.bfloat16, torch.int32, torch.uint32,
                                   torch.float32, torch.int64, torch.uint64, torch.float64])
def test_real_safetensors_files_pass_the_check(dtype):
    from safetensors.torch import save

    blob = save({"w": torch.ones(2, 3, dtype=dtype), "empty": torch.zeros(0, dtype=dtype),
                 "s": torch.ones((), dtype=dtype)}, metadata={"format": "pt"})
    assert set(check_header(io.BytesIO(blob), len(blob))) == {"w", "empty", "s", "__metadata__"}


def test_a_header_the_loader_refuses_never_reaches_the_sandbox():
    """Offsets with a gap: the old check passed them and the sandbox's loader said runtime_error."""
    state = factories.baseline_state()
    from safetensors.torch import save

    blob = bytearray(save(state))
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    last = max((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
    header[last]["data_offsets"] = [header[last]["data_offsets"][0] + 4, header[last]["data_offsets"][1] + 4]
    raw = json.dumps(header).encode()
    weights = struct.pack("<Q", len(raw)) + raw + bytes(blob[8 + n:]) + b"\0" * 4
    with pytest.raises(SafetensorError):
        safetensors_load(weights)
    assert "gaps" in refused(zipped({"model.py": factories.BASELINE_SOURCE.encode(), "weights.safetensors": weights}))


# The sandbox's loader: a weights file it refuses is the student's invalid submission, not a crash.
def _stored_bundle_with_damaged_tensor_bytes() -> bytes:
    """Inspection reads only the header; the tensor bytes no longer match the listing's CRC."""
    from safetensors.torch import save

    weights = bytearray(save(factories.baseline_state()))
    weights[-1] ^= 0xFF
    data = bytearray(build([Entry(b"model.py", factories.BASELINE_SOURCE.encode()),
                            Entry(b"weights.safetensors", save(factories.baseline_state()))]))
    at = data.index(bytes(weights[:-1]))
    data[at + len(weights) - 1] = weights[-1]
    return bytes(data)


def test_the_runtime_loader_calls_a_file_it_refuses_an_invalid_submission(tmp_path):
    from basin_grader.runtime.loading import _load_state_dict, load_model

    path = tmp_path / "weights.safetensors"
    path.write_bytes(safetensors(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', b"\0" * 4))
    with pytest.raises(GradingError) as caught:
        _load_state_dict(path)
    assert caught.value.verdict == INVALID_SUBMISSION and "save_file" in caught.value.message
    path = factories.write(tmp_path / "submission.zip", _stored_bundle_with_damaged_tensor_bytes())
    inspect_submission(open(path, "rb"), path.name)  # the header is fine
    with pytest.raises(GradingError) as caught:
        load_model(path, tmp_path / "scratch")
    assert caught.value.verdict == INVALID_SUBMISSION and "damaged" in caught.value.message


def test_a_damaged_weights_file_is_invalid_submission_from_the_sandbox(tmp_path, tiny_dataset):
    from basin_grader.evaluate import evaluate
    from basin_grader.sandbox import SandboxLimits, get_backend

    path = factories.write(tmp_path / "submission.zip", _stored_bundle_with_damaged_tensor_bytes())
    result = evaluate(path, tiny_dataset, tmp_path / "attempt", get_backend("process"), SandboxLimits(wall_seconds=120))
    assert result.verdict == INVALID_SUBMISSION, (result.verdict, result.message, result.log_tail[-1000:])
    assert "damaged" in result.message


def test_a_pt2_of_a_deep_model_is_accepted_and_a_bundle_of_many_files_is_not(tmp_path):
    """A .pt2 holds an entry per tensor (here ~300); a bundle is model.py and one weights file."""
    layers = [m for _ in range(40) for m in (torch.nn.Linear(8, 8), torch.nn.BatchNorm1d(8))]
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 64 * 64, 8), *layers, torch.nn.Linear(8, 10))
    path = tmp_path / "deep.pt2"
    torch.export.save(torch.export.export(model.eval(), (torch.zeros(2, 3, 64, 64),)), str(path))
    assert len(zipfile.ZipFile(path).infolist()) > 64
    assert inspect_submission(open(path, "rb"), path.name).kind == "export"
    many = zipped({"model.py": MODEL, "weights.safetensors": safetensors(b"{}"),
                   **{f"notes/{i}.txt": b"x" for i in range(70)}})
    assert "at most 64" in refused(many)


WORKER_CASES = ["encrypted entry flag", "unknown compression method", "local name differs from the listing",
                "4,301-digit integer in the header", "zip64 extra with absurd sizes", "duplicate model.py"]


@pytest.mark.parametrize("case", WORKER_CASES)
def test_the_worker_gives_the_same_verdict_without_starting_a_sandbox(case, tmp_path, tiny_dataset):
    from basin_grader.evaluate import evaluate
    from basin_grader.sandbox import get_backend

    path = factories.write(tmp_path / "submission.zip", CRASHES[case])
    result = evaluate(path, tiny_dataset, tmp_path / "attempt", get_backend("process"))
    assert result.verdict == INVALID_SUBMISSION and "Traceback" not in result.message
    assert not (tmp_path / "attempt").exists()  # refused before anything was prepared for the sandbox


def test_a_shape_of_thousands_of_dimensions_is_refused_without_multiplying_them_out():
    """A 100 KB header whose one entry has 40,000 sizes: multiplying them cost seconds of the web
    request's CPU (quadratic in the digits) before its size was checked."""
    header = json.dumps({"w": {"dtype": "F32", "shape": [2**32 - 1] * 40_000, "data_offsets": [0, 4]}}).encode()
    started = time.process_time()
    with pytest.raises(GradingError, match="dimensions") as refused:
        check_header(io.BytesIO(safetensors(header, b"\0" * 4)), len(header) + 12)
    assert refused.value.verdict == INVALID_SUBMISSION and time.process_time() - started < 0.5
