"""A submission bundle: a zip of model.py (with build_model()) and the model's weights, as the
grader loads it. `basin bundle model.py weights.safetensors -o model.zip` from a shell;
`save_bundle(model)` from a notebook (saves the weights as safetensors, then zips).

Writing needs nothing but the standard library; `save_bundle` needs PyTorch and safetensors."""
from __future__ import annotations

import ast
import tempfile
import zipfile
from pathlib import Path

# The grader's own rules for a bundle (the toolkit ships them; no torch needed).
from basin_grader.formats import WEIGHT_SUFFIXES, inspect_submission
from basin_grader.verdicts import GradingError


class BundleError(ValueError):
    """A bundle that could not be written; the message says what to change."""


def _check_model_py(model_py: Path) -> None:
    if not model_py.is_file():
        raise BundleError(f"No file at {model_py}: pass the path of the model.py that defines build_model().")
    try:
        tree = ast.parse(model_py.read_bytes(), filename=str(model_py))
    except SyntaxError as e:
        raise BundleError(f"{model_py} is not valid Python (line {e.lineno}: {e.msg}); fix it first.") from None
    if not any(isinstance(node, ast.FunctionDef) and node.name == "build_model" for node in tree.body):
        raise BundleError(f"{model_py} defines no build_model() at its top level; the grader calls build_model() "
                          "to make your nn.Module before it loads the weights.")


def write_bundle(model_py: str | Path, weights: str | Path, out: str | Path = "submission.zip") -> Path:
    """Zip model.py and the weights file (kept under its own suffix) into `out`, which is returned."""
    model_py, weights, out = Path(model_py), Path(weights), Path(out)
    _check_model_py(model_py)
    if not weights.is_file():
        raise BundleError(f"No file at {weights}: save model.state_dict() first (safetensors.torch.save_file).")
    if weights.suffix not in WEIGHT_SUFFIXES:
        raise BundleError(f"{weights.name} is not a weights file the grader reads: save model.state_dict() as "
                          ".safetensors (or with torch.save as .pt).")
    if weights.stat().st_size == 0:
        raise BundleError(f"{weights} is empty (0 bytes): save the weights again.")
    if out.resolve() in (model_py.resolve(), weights.resolve()):
        raise BundleError(f"-o {out} would overwrite an input; write the bundle to another file, e.g. submission.zip.")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(model_py, "model.py")
        zf.write(weights, f"weights{weights.suffix}")
    try:  # what the server checks first, so a bundle it would refuse is caught here
        with open(out, "rb") as f:
            inspect_submission(f, out.name)
    except GradingError as e:
        out.unlink()
        raise BundleError(f"The bundle would be refused: {e.message}") from None
    return out


def save_bundle(model, model_py: str | Path = "model.py", out: str | Path = "submission.zip") -> Path:
    """Save `model`'s weights as safetensors and zip them with `model_py` into `out`. The model's
    build_model() in model_py must make the same architecture."""
    from safetensors.torch import save_file

    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "weights.safetensors"
        # On the CPU, contiguous and unshared (tied weights): safetensors writes plain buffers, one each.
        save_file({k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}, str(weights))
        return write_bundle(model_py, weights, out)
