"""Digit glyphs: grey masks in [0, 1], ink = 1, behind one small interface.

`StrokeGlyphs` is the built-in offline source: each digit is a few pen strokes through control
points (several forms per digit, as people write them), bent by a per-writer style (slant,
width, aspect, jitter, a smooth elastic warp) and drawn with round-capped strokes of varying
width, supersampled for anti-aliasing. Not a font: no two glyphs are alike.

`MnistGlyphs` takes real handwritten digits from MNIST's IDX files (see its docstring).
"""
from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image, ImageDraw

GLYPH_SIZE = 48  # the mask's side; the compositor rescales it to the drawn size
_SUPERSAMPLE = 2


class GlyphSource(Protocol):
    name: str  # recorded in the manifest

    def glyph(self, label: int, rng: np.random.Generator, split: str) -> tuple[np.ndarray, str | None]:
        """A float32 mask GLYPH_SIZE×GLYPH_SIZE in [0, 1] of the digit `label`, for a sample of
        `split`, and the id of the source glyph where it has one (None: the sample's own)."""


# Control points in a unit box (x right, y down); one tuple per stroke, several forms per digit.
_FORMS: dict[int, list[list[list[tuple[float, float]]]]] = {
    0: [[[(0.5, 0.05), (0.22, 0.18), (0.13, 0.5), (0.22, 0.83), (0.5, 0.95), (0.78, 0.83),
          (0.87, 0.5), (0.78, 0.17), (0.5, 0.05), (0.38, 0.1)]]],
    1: [[[(0.52, 0.05), (0.5, 0.5), (0.48, 0.95)]],
        [[(0.3, 0.25), (0.55, 0.05), (0.52, 0.5), (0.5, 0.95)]],
        [[(0.32, 0.22), (0.55, 0.05), (0.52, 0.5), (0.5, 0.93)], [(0.3, 0.95), (0.72, 0.95)]]],
    2: [[[(0.18, 0.25), (0.35, 0.07), (0.62, 0.05), (0.8, 0.22), (0.74, 0.45), (0.45, 0.7),
          (0.15, 0.95), (0.5, 0.93), (0.88, 0.95)]],
        [[(0.2, 0.2), (0.5, 0.04), (0.8, 0.2), (0.7, 0.5), (0.3, 0.8), (0.2, 0.93), (0.4, 0.85),
          (0.6, 0.9), (0.88, 0.93)]]],
    3: [[[(0.2, 0.12), (0.5, 0.04), (0.78, 0.15), (0.72, 0.38), (0.45, 0.48), (0.75, 0.58),
          (0.82, 0.8), (0.55, 0.96), (0.18, 0.88)]],
        [[(0.18, 0.06), (0.8, 0.06), (0.45, 0.42), (0.75, 0.55), (0.82, 0.8), (0.55, 0.96),
          (0.18, 0.86)]]],
    4: [[[(0.66, 0.95), (0.66, 0.05), (0.12, 0.68), (0.88, 0.68)]],
        [[(0.3, 0.05), (0.16, 0.6), (0.86, 0.6)], [(0.68, 0.28), (0.65, 0.95)]]],
    5: [[[(0.8, 0.06), (0.32, 0.06), (0.25, 0.45), (0.55, 0.38), (0.8, 0.55), (0.8, 0.8),
          (0.55, 0.95), (0.2, 0.88)]],
        [[(0.3, 0.06), (0.25, 0.45), (0.55, 0.38), (0.8, 0.55), (0.8, 0.8), (0.55, 0.95),
          (0.2, 0.88)], [(0.3, 0.06), (0.82, 0.05)]]],
    6: [[[(0.72, 0.06), (0.42, 0.24), (0.2, 0.6), (0.3, 0.9), (0.55, 0.95), (0.78, 0.78),
          (0.72, 0.55), (0.45, 0.5), (0.22, 0.66)]]],
    7: [[[(0.15, 0.08), (0.85, 0.08), (0.56, 0.5), (0.4, 0.95)]],
        [[(0.15, 0.12), (0.85, 0.08), (0.56, 0.5), (0.4, 0.95)], [(0.36, 0.5), (0.76, 0.5)]]],
    8: [[[(0.55, 0.48), (0.78, 0.3), (0.72, 0.1), (0.5, 0.04), (0.27, 0.12), (0.25, 0.3),
          (0.5, 0.48), (0.78, 0.68), (0.72, 0.9), (0.5, 0.96), (0.25, 0.88), (0.22, 0.68),
          (0.5, 0.48)]]],
    9: [[[(0.78, 0.28), (0.6, 0.45), (0.35, 0.45), (0.22, 0.28), (0.35, 0.07), (0.62, 0.05),
          (0.78, 0.2), (0.75, 0.55), (0.68, 0.95)]],
        [[(0.78, 0.25), (0.55, 0.42), (0.3, 0.4), (0.25, 0.2), (0.45, 0.05), (0.72, 0.08),
          (0.78, 0.25), (0.74, 0.6), (0.7, 0.95)]]],
}


_SAMPLES = 10  # curve points per segment between two control points
_T = np.arange(_SAMPLES) / _SAMPLES
# Catmull-Rom basis: a segment's points are _BASIS @ (p0, p1, p2, p3).
_BASIS = 0.5 * np.stack([-_T**3 + 2 * _T**2 - _T, 3 * _T**3 - 5 * _T**2 + 2,
                         -3 * _T**3 + 4 * _T**2 + _T, _T**3 - _T**2], axis=1)


def _catmull_rom(points: np.ndarray) -> np.ndarray:
    """A smooth curve through `points` (K×2), sampled densely (all segments at once)."""
    p = np.concatenate([points[:1], points, points[-1:]])
    windows = np.stack([p[:-3], p[1:-2], p[2:-1], p[3:]], axis=1)  # (K-1)×4×2
    curve = np.einsum("sj,kjd->ksd", _BASIS, windows).reshape(-1, 2)
    return np.concatenate([curve, points[-1:]])


_RUN = 6  # curve points drawn as one polyline of one width


class StrokeGlyphs:
    """The built-in offline generator of handwriting-like digits."""

    name = "strokes"

    def glyph(self, label: int, rng: np.random.Generator, split: str = "train") -> tuple[np.ndarray, None]:
        forms = _FORMS[label]
        strokes = forms[rng.integers(len(forms))]
        slant = rng.uniform(-0.35, 0.2)
        aspect = rng.uniform(0.7, 1.1)
        width = rng.uniform(0.06, 0.13)
        jitter = rng.uniform(0.015, 0.045)
        # A smooth elastic warp: two low-frequency sine displacements with random phase.
        warp_amp = rng.uniform(0.0, 0.05, size=2)
        warp_freq = rng.uniform(1.0, 2.5, size=2)
        warp_phase = rng.uniform(0, 2 * np.pi, size=2)

        side = GLYPH_SIZE * _SUPERSAMPLE
        canvas = Image.new("L", (side, side), 0)
        draw = ImageDraw.Draw(canvas)
        margin = 0.12
        for stroke in strokes:
            pts = np.asarray(stroke, dtype=np.float64)
            pts = pts + rng.normal(0.0, jitter, size=pts.shape)
            curve = _catmull_rom(pts)
            x, y = curve[:, 0], curve[:, 1]
            x = x + warp_amp[0] * np.sin(warp_freq[0] * np.pi * y + warp_phase[0])
            y = y + warp_amp[1] * np.sin(warp_freq[1] * np.pi * x + warp_phase[1])
            x = 0.5 + (x - 0.5) * aspect + slant * (0.5 - y)
            xy = np.stack([x, y], axis=1) * (1 - 2 * margin) + margin
            xy *= side
            # Pressure: the width swells and thins smoothly along the stroke.
            n = len(xy)
            swells, phase = rng.uniform((1.0, 0.0), (3.0, 6.3))
            pressure = 1.0 + 0.3 * np.sin(np.arange(n) * (swells * np.pi / (n - 1)) + phase)
            w = np.maximum(1.5, width * side * pressure)
            # Short polylines, each as wide as the pressure at its middle (the curve is sampled
            # densely, so the joints within a run need no rounding); round dots where runs meet
            # and at the ends make the caps and hide the width steps.
            points = [tuple(p) for p in xy.tolist()]
            for start in range(0, n - 1, _RUN):
                run = points[start:start + _RUN + 1]
                run_width = int(round(w[min(start + _RUN // 2, n - 1)]))
                if len(run) > 1:
                    draw.line(run, fill=255, width=run_width)
            for i in (*range(0, n - 1, _RUN), n - 1):
                r = w[i] / 2
                draw.ellipse([xy[i, 0] - r, xy[i, 1] - r, xy[i, 0] + r, xy[i, 1] + r], fill=255)
        mask = canvas.resize((GLYPH_SIZE, GLYPH_SIZE), Image.Resampling.BOX)
        return np.asarray(mask, dtype=np.float32) / 255.0, None


# MNIST's distribution names; torchvision keeps the same files under MNIST/raw/.
_MNIST_PARTS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "t10k": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_IDX_DTYPE = {0x08: np.uint8}


def _read_idx(path: Path) -> np.ndarray:
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPE:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path} holds {data.size} values, its header says {shape}")
    return data.reshape(shape)


def _find(directory: Path, stem: str) -> Path | None:
    for folder in (directory, directory / "MNIST" / "raw", directory / "raw"):
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


@lru_cache(maxsize=2)
def _load_mnist(directory: str) -> tuple[dict, str]:
    """{part: (images N×28×28, indices per label)} and a digest of the files, loaded once per process."""
    parts, digest = {}, hashlib.sha256()
    for part, (images_stem, labels_stem) in _MNIST_PARTS.items():
        images_path, labels_path = _find(Path(directory), images_stem), _find(Path(directory), labels_stem)
        if images_path is None or labels_path is None:
            continue
        images, labels = _read_idx(images_path), _read_idx(labels_path)
        if images.ndim != 3 or labels.shape != images.shape[:1]:
            raise ValueError(f"{images_path} and {labels_path} do not match: {images.shape} and {labels.shape}")
        by_label = [np.flatnonzero(labels == c) for c in range(10)]
        if any(len(ids) < 2 for ids in by_label):
            raise ValueError(f"{labels_path} needs at least two images of each digit 0-9")
        parts[part] = (images, by_label)
        for path in (images_path, labels_path):
            digest.update(path.read_bytes())
    if "train" not in parts:
        raise FileNotFoundError(f"no MNIST training files in {directory}: expected train-images-idx3-ubyte[.gz] and "
                                "train-labels-idx1-ubyte[.gz] there (or in MNIST/raw/, as torchvision keeps them)")
    return parts, digest.hexdigest()[:16]


class MnistGlyphs:
    """Real MNIST digits, from the IDX files in `directory` (as distributed, optionally gzipped, or
    torchvision's MNIST/raw/ after `torchvision.datasets.MNIST(directory, download=True)` on a
    machine with internet access). Public splits take digits from MNIST's training set, hidden
    splits from its test set (t10k) where it is there, so the writers of the leaderboard's digits
    are not the writers students trained on; with a training set alone, every sixth digit is kept
    for the hidden splits and never used in train or val.

    MNIST itself is public: a student could render its test digits and train on them. A course that
    wants hidden digits nobody has seen puts its own collection in the same IDX format here."""

    def __init__(self, directory: str | Path):
        self.directory = str(Path(directory).resolve())
        parts, digest = _load_mnist(self.directory)  # fail here, early, on a bad directory
        self.name = f"mnist:{digest}" + ("" if "t10k" in parts else ":train-only")

    def __reduce__(self):  # worker processes reload the files (cached) instead of unpickling 50 MB
        return (MnistGlyphs, (self.directory,))

    def glyph(self, label: int, rng: np.random.Generator, split: str = "train") -> tuple[np.ndarray, str]:
        from basin_grader.dataset_layout import HIDDEN_SPLITS

        parts, _ = _load_mnist(self.directory)
        hidden = split in HIDDEN_SPLITS
        part = "t10k" if hidden and "t10k" in parts else "train"
        images, by_label = parts[part]
        pool = by_label[label]
        if "t10k" not in parts:  # one set for both: every sixth digit of each class only for the hidden splits
            pool = pool[::6] if hidden else np.delete(pool, np.s_[::6])
        index = int(pool[rng.integers(len(pool))])
        mask = Image.fromarray(images[index]).resize((GLYPH_SIZE, GLYPH_SIZE), Image.Resampling.BILINEAR)
        return np.asarray(mask, dtype=np.float32) / 255.0, f"mnist:{part}:{index}"
