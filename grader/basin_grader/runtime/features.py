"""The feature view: penultimate-layer features (the input of the final linear layer), projected
to 2D by PCA.

The final linear layer is found at the ATen level, the last matrix product of the forward pass,
so an nn.Module from a bundle and the graph of a `.pt2` program give the same features without
knowing the student's module names.
"""
from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode

_aten = torch.ops.aten
# op -> index of the activations among its arguments (addmm(bias, input, weightᵀ))
# (matmul and linear are composites: at this level they arrive as these.)
_MATMULS = {_aten.addmm.default: 1, _aten.mm.default: 0, _aten.bmm.default: 0}


class _LastMatmulInput(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.value: torch.Tensor | None = None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        index = _MATMULS.get(func)
        if index is not None:
            self.value = args[index]
        return func(*args, **(kwargs or {}))


class NoFinalLinearLayer(ValueError):
    pass


@torch.no_grad()
def penultimate_features(model: torch.nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    chunks = []
    for start in range(0, len(x), batch_size):
        with _LastMatmulInput() as mode:
            model(x[start:start + batch_size])
        if mode.value is None:
            raise NoFinalLinearLayer("the model has no final linear layer whose input could be read")
        chunks.append(mode.value.detach().flatten(1).float().cpu())
    return torch.cat(chunks)


def pca_2d(features: torch.Tensor) -> tuple[torch.Tensor, list[float]]:
    """Coordinates on the first two principal axes and the share of variance each explains.
    Each axis is signed so that its largest loading is positive: the same model gives the same picture."""
    f = features.double()
    f = f - f.mean(0, keepdim=True)
    _, s, vh = torch.linalg.svd(f, full_matrices=False)
    axes = vh[:2]
    signs = torch.sign(axes.gather(1, axes.abs().argmax(1, keepdim=True)))
    axes = axes * torch.where(signs == 0, torch.ones_like(signs), signs)
    coords = f @ axes.T
    if coords.shape[1] < 2:  # one feature: the second axis is empty
        coords = torch.cat([coords, torch.zeros(len(coords), 2 - coords.shape[1], dtype=coords.dtype)], 1)
    variance = s.square()
    total = float(variance.sum())
    explained = [float(v) / total if total > 0 else 0.0 for v in variance[:2]] + [0.0] * max(0, 2 - len(variance))
    return coords.float(), explained
