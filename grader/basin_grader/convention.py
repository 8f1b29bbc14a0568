"""The input convention of every model Basin grades, shared by the dataset class, the notebook and the grader.

A model receives float32 tensors of shape N×3×64×64: pixels scaled to [0, 1], then normalized
per channel with MEAN and STD below; it returns N×10 logits. Written once, here.
"""
from __future__ import annotations

import numpy as np

NUM_CLASSES = 10
IMAGE_SIZE = 64
CHANNELS = 3
# Per-channel statistics of a train split built with the offline glyphs (seed 0), rounded.
# Fixed constants, not recomputed per version: a model trained on one version runs on the next.
MEAN = (0.76, 0.73, 0.65)
STD = (0.20, 0.22, 0.24)

_MEAN = np.asarray(MEAN, dtype=np.float32).reshape(1, 3, 1, 1)
_STD = np.asarray(STD, dtype=np.float32).reshape(1, 3, 1, 1)


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 images N×64×64×3 (as stored) -> normalized float32 N×3×64×64 (as models take)."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, CHANNELS):
        raise ValueError(f"expected uint8 images of shape N×64×64×3, got {images.dtype} {images.shape}")
    x = images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    return np.ascontiguousarray((x - _MEAN) / _STD)
