"""Turn an accepted submission file into an nn.Module in eval mode (inside the sandbox only)."""
from __future__ import annotations

import importlib.util
import sys
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import torch

from ..formats import BUNDLE, inspect_submission
from ..verdicts import INVALID_SUBMISSION, GradingError


def _load_state_dict(path: Path) -> Mapping[str, torch.Tensor]:
    """The weights as tensors; a file the loader refuses is the student's invalid submission."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as e:  # SafetensorError, or torch refusing a dtype: a damaged or foreign file
            raise GradingError(INVALID_SUBMISSION, f"{path.name} could not be loaded by safetensors "
                               f"({_first_line(e)}). Save the weights with safetensors.torch.save_file"
                               "(model.state_dict(), 'weights.safetensors').") from e
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # weights_only refuses anything but tensors and plain containers
        raise GradingError(INVALID_SUBMISSION, f"{path.name} could not be loaded as a state_dict "
                           f"({_first_line(e)}). Save model.state_dict() with torch.save.") from e
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GradingError(INVALID_SUBMISSION, f"{path.name} must hold a dict of tensors (model.state_dict()).")
    return state


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:300]


def _extract(path: Path, names: tuple[str, ...], folder: Path) -> None:
    """Write the bundle's own files into `folder`; a member that does not inflate to what its
    listing claims (a bad CRC, a truncated stream) is a damaged zip, not the student's code failing."""
    try:
        with zipfile.ZipFile(path) as zf:
            for name in names:
                (folder / name).write_bytes(zf.read(name))
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError, NotImplementedError) as e:
        raise GradingError(INVALID_SUBMISSION, f"The zip archive is damaged ({_first_line(e)}). Make the zip "
                           "again with Python's zipfile or the zip command, without a password.") from e
    except zlib.error as e:
        raise GradingError(INVALID_SUBMISSION, "The zip archive is damaged: an entry does not inflate. Make the "
                           "zip again.") from e


def _describe_keys(kind: str, keys: list[str]) -> str:
    shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
    return f"{kind}: {shown}"


def _check_shapes(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]) -> None:
    """One readable line for weights of another architecture: the first key whose shape differs
    (checkpoint vs model) and how many more; every mismatch goes to stderr, the student's log."""
    wrong = [(key, tuple(state[key].shape), tuple(tensor.shape)) for key, tensor in expected.items()  # model order
             if key in state and isinstance(tensor, torch.Tensor) and tuple(state[key].shape) != tuple(tensor.shape)]
    if not wrong:
        return
    for key, theirs, ours in wrong:
        print(f"shape mismatch for {key}: checkpoint {list(theirs)}, model {list(ours)}", file=sys.stderr)
    key, theirs, ours = wrong[0]
    more = f" and {len(wrong) - 1} more" if len(wrong) > 1 else ""
    raise GradingError(INVALID_SUBMISSION, f"The weights do not fit build_model()'s model: {key[:200]} is "
                       f"{list(theirs)} in the checkpoint but {list(ours)} in the model{more}. Save "
                       "model.state_dict() of the same architecture that build_model() returns.")


def load_bundle(path: Path, scratch: Path) -> torch.nn.Module:
    with open(path, "rb") as f:
        info = inspect_submission(f, path.name)
    folder = scratch / "bundle"
    folder.mkdir(parents=True, exist_ok=True)
    assert info.weights is not None, "a bundle's inspection names its weights file"
    _extract(path, ("model.py", info.weights), folder)  # only the two files the bundle is made of
    spec = importlib.util.spec_from_file_location("submission_model", folder / "model.py")
    assert spec is not None and spec.loader is not None, "a .py file always has a loader"
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission_model"] = module
    sys.path.insert(0, str(folder))
    spec.loader.exec_module(module)  # the student's code: errors surface as runtime errors
    if not callable(getattr(module, "build_model", None)):
        raise GradingError(INVALID_SUBMISSION,
                           "model.py has no build_model() function; define one that returns your nn.Module.")
    model = module.build_model()
    if not isinstance(model, torch.nn.Module):
        raise GradingError(INVALID_SUBMISSION, f"build_model() returned {type(model).__name__}, not an nn.Module.")
    state = _load_state_dict(folder / info.weights)
    _check_shapes(state, model.state_dict())
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # what the shape check cannot see (a custom _load_from_state_dict, say)
        print(f"load_state_dict refused the weights:\n{e}", file=sys.stderr)  # the full text, for the log
        raise GradingError(INVALID_SUBMISSION, f"The weights do not fit build_model()'s model "
                           f"({_first_line(e)[:200]}); the full message is in the log.") from e
    problems = []
    if result.missing_keys:
        problems.append(_describe_keys("missing", result.missing_keys))
    if result.unexpected_keys:
        problems.append(_describe_keys("unexpected", result.unexpected_keys))
    if problems:
        raise GradingError(INVALID_SUBMISSION, "The weights do not match build_model()'s model ("
                           + "; ".join(problems) + "). Save model.state_dict() of the same architecture.")
    return model


# Ops whose mode is an argument in an exported graph: (op, index of its training flag).
_TRAINING_FLAGS = {torch.ops.aten.batch_norm.default: 5, torch.ops.aten.dropout.default: 2,
                   torch.ops.aten.native_batch_norm.default: 5}


def to_eval_mode(module: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """An exported program's module in eval mode, as model.eval() puts a bundle's: a program
    exported in training mode has BatchNorm on batch statistics (rewriting its running ones on
    every call) and dropout on; their training flags are switched off here. (`.eval()` is not
    supported on these modules.)"""
    changed = False
    for node in list(module.graph.nodes):
        if node.op != "call_function":
            continue
        index = _TRAINING_FLAGS.get(node.target)
        if index is not None and len(node.args) > index and node.args[index] is True:
            node.args = (*node.args[:index], False, *node.args[index + 1:])
            changed = True
        elif node.target == torch.ops.aten.add_.Tensor and not node.users and _is_batch_counter(node.args[0]):
            module.graph.erase_node(node)  # BatchNorm's num_batches_tracked += 1: training bookkeeping
            changed = True
    if changed:
        module.recompile()
    return module


def _is_batch_counter(node) -> bool:
    return (isinstance(node, torch.fx.Node) and node.op == "get_attr"
            and str(node.target).endswith("num_batches_tracked"))


def load_export(path: Path) -> torch.nn.Module:
    try:
        program = torch.export.load(str(path))
    except Exception as e:
        raise GradingError(INVALID_SUBMISSION, f"The .pt2 program could not be loaded ({_first_line(e)}). Save it "
                           "with torch.export.save(torch.export.export(model.eval(), (example,)), 'model.pt2').") from e
    batch = fixed_batch(program)
    if batch is not None:  # it would fail on the grader's first batch with a bare "Guard failed"
        raise GradingError(INVALID_SUBMISSION, f"This .pt2 was exported for batches of exactly {batch} image(s), but "
                           "the grader sends batches of other sizes. Export it with a dynamic batch dimension: "
                           "batch = torch.export.Dim('batch'); torch.export.export(model.eval(), (example,), "
                           "dynamic_shapes=({0: batch},)), with an example batch of 2 or more images.")
    module = program.module()
    return to_eval_mode(module) if isinstance(module, torch.fx.GraphModule) else module


def fixed_batch(program) -> int | None:
    """The batch size a program was specialized to (its first input's first dimension is a plain
    int, not a symbol), or None when the batch dimension is dynamic."""
    inputs = set(program.graph_signature.user_inputs)
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in inputs:
            shape = getattr(node.meta.get("val"), "shape", None)
            return shape[0] if shape is not None and len(shape) > 0 and isinstance(shape[0], int) else None
    return None


def load_model(path: Path, scratch: Path) -> torch.nn.Module:
    with open(path, "rb") as f:
        info = inspect_submission(f, path.name)
    model = load_bundle(path, scratch) if info.kind == BUNDLE else load_export(path)
    if hasattr(model, "eval"):
        try:
            model.eval()
        except NotImplementedError:  # an exported program's module is already in eval form
            pass
    return model
