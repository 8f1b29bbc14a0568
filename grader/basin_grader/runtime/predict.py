"""The inference loop: stored uint8 images -> the input convention -> logits, batch by batch."""
from __future__ import annotations

import numpy as np
import torch

from ..convention import NUM_CLASSES, to_model_input
from ..verdicts import INVALID_OUTPUT, GradingError


@torch.no_grad()
def predict_logits(model: torch.nn.Module, images: np.ndarray, batch_size: int = 256,
                   device: str = "cpu") -> np.ndarray:
    chunks = []
    for start in range(0, len(images), batch_size):
        x = torch.from_numpy(to_model_input(images[start:start + batch_size])).to(device)
        y = model(x)
        if not isinstance(y, torch.Tensor) or tuple(y.shape) != (len(x), NUM_CLASSES):
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise GradingError(INVALID_OUTPUT, f"The model returned {got} for a batch of {len(x)} images; "
                               f"it must return logits of shape ({len(x)}, {NUM_CLASSES}).")
        chunks.append(y.float().cpu().numpy())
    return np.concatenate(chunks)
