"""The web, the CLI and the sandbox classify files with the same code, and never unpickle them."""
import io
import zipfile

import pytest
import torch

from basin_grader.formats import BUNDLE, EXPORT, inspect_submission
from basin_grader.verdicts import INVALID_SUBMISSION, GradingError
from tests import factories


def inspect(data: bytes, name: str = "submission.zip"):
    return inspect_submission(io.BytesIO(data), name)


def rejection(data: bytes, name: str = "submission.zip") -> str:
    with pytest.raises(GradingError) as caught:
        inspect(data, name)
    assert caught.value.verdict == INVALID_SUBMISSION
    return caught.value.message


def saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_a_bundle_with_safetensors_weights_is_accepted():
    info = inspect(factories.bundle())
    assert (info.kind, info.weights) == (BUNDLE, "weights.safetensors")


def test_a_bundle_with_a_state_dict_pt_is_accepted():
    assert inspect(factories.bundle(weights_name="weights.pt")).weights == "weights.pt"


def test_a_torch_export_program_is_accepted(tmp_path):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 64 * 64, 10)).eval()
    path = tmp_path / "model.pt2"
    torch.export.save(torch.export.export(model, (torch.zeros(2, 3, 64, 64),)), str(path))
    assert inspect(path.read_bytes(), "model.pt2").kind == EXPORT


def test_a_whole_pickled_module_is_refused_with_what_to_send_instead():
    message = rejection(saved(torch.nn.Linear(2, 2)), "model.pt")
    assert "torch.save(model)" in message and "state_dict" in message


def test_torchscript_is_refused():
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), buf)
    assert "TorchScript" in rejection(buf.getvalue(), "model.pt")


def test_a_state_dict_without_model_py_is_refused():
    assert "without the model's code" in rejection(saved(torch.nn.Linear(2, 2).state_dict()), "weights.pt")


def test_a_pickled_module_inside_a_bundle_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("model.py", factories.BASELINE_SOURCE)
        zf.writestr("weights.pt", saved(torch.nn.Linear(2, 2)))
    assert "not a state_dict" in rejection(buf.getvalue())


@pytest.mark.parametrize("name", ["../evil.py", "/etc/passwd", "a/../../b"])
def test_paths_that_escape_the_archive_are_refused(name):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, b"x")
        zf.writestr("model.py", b"")
    assert "outside the archive" in rejection(buf.getvalue())


def test_a_zip_bomb_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.py", b"")
        zf.writestr("weights.safetensors", b"\0" * (64 << 20))
    assert "zip bomb" in rejection(buf.getvalue())


def test_a_damaged_safetensors_header_is_refused():
    good = factories.bundle()
    src = zipfile.ZipFile(io.BytesIO(good))
    weights = bytearray(src.read("weights.safetensors"))
    weights[8:12] = b"{{{{"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("model.py", src.read("model.py"))
        zf.writestr("weights.safetensors", bytes(weights))
    assert "not valid JSON" in rejection(buf.getvalue())


def test_files_that_are_not_zips_get_a_message_naming_the_accepted_formats():
    assert "not a zip archive" in rejection(b"hello", "model.onnx2")
    assert "code too" in rejection(b"\x08\0\0\0\0\0\0\0{}", "weights.safetensors")


def test_a_zip_bomb_nested_inside_the_weights_is_refused_without_inflating_it():
    import resource

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("w/data.pkl", saved({}))
        zf.writestr("w/data/0", b"\0" * (256 << 20))
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("model.py", factories.BASELINE_SOURCE)
        zf.writestr("weights.pt", inner.getvalue())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert "zip bomb" in rejection(outer.getvalue())
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024  # KiB: nothing inflated


def test_a_deeply_nested_safetensors_header_is_refused_not_a_crash():
    header = b"[" * 100_000 + b"]" * 100_000
    data = len(header).to_bytes(8, "little") + header
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("model.py", b"")
        zf.writestr("weights.safetensors", data)
    assert "not valid JSON" in rejection(buf.getvalue())
