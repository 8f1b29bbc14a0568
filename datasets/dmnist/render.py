"""Papers, pens, and the compositor that writes one glyph onto one paper.

Papers are procedural textures made once per build from the seed (TEXTURE×TEXTURE pixels);
each sample is a random crop. Pens put down anti-aliased ink whose opacity varies with a smooth
pressure field (and grain, for pencil), blended over the paper rather than pasted as a flat fill.
The last paper and the last pen are the shift split's: they never occur in the other splits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

IMAGE_SIZE = 64  # the grading contract (basin_grader.convention) expects the same

TEXTURE = 192
MIN_HEIGHT, MAX_HEIGHT = 22, 58  # drawn glyph height in pixels: about 1/3 to 9/10 of the canvas
MAX_ROTATION = 12.0  # degrees, either way

PAPERS = ("notebook", "graph", "kraft", "newsprint", "parchment")
SHIFT_PAPER = "blueprint"
PENS = ("ballpoint", "marker", "pencil")
SHIFT_PEN = "gel"


@dataclass(frozen=True)
class Pen:
    color: tuple[int, int, int]
    opacity: float
    weight: int  # >0 thickens (dilation steps), <0 thins (a power on the mask)
    pressure: float  # how much the opacity varies across the glyph
    grain: float  # multiplicative per-pixel noise (pencil graphite)


PEN_STYLES = {
    "ballpoint": Pen((25, 45, 150), 0.92, -1, 0.35, 0.05),
    "marker": Pen((18, 18, 22), 0.97, 1, 0.10, 0.0),
    "pencil": Pen((75, 75, 80), 0.80, 0, 0.30, 0.45),
    "gel": Pen((240, 235, 90), 0.95, 0, 0.15, 0.0),
}


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Value noise in [0, 1]: random values on a coarse grid, bicubically upsampled."""
    coarse = rng.random((cells, cells)).astype(np.float32)
    img = Image.fromarray(coarse, mode="F").resize((size, size), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(img), 0.0, 1.0)


def make_paper(name: str, rng: np.random.Generator) -> np.ndarray:
    """A float32 TEXTURE×TEXTURE×3 texture in [0, 255]."""
    s = TEXTURE
    yy, xx = np.mgrid[0:s, 0:s]
    fine = rng.normal(0.0, 1.0, (s, s)).astype(np.float32)
    if name == "notebook":
        base = np.array([246, 244, 236], np.float32) + 3 * fine[..., None]
        lines = (yy % 14 == 0)[..., None]
        base = np.where(lines, [150, 180, 225], base)
        base = np.where(((xx % 96) == 20)[..., None], [225, 120, 120], base)
    elif name == "graph":
        base = np.array([240, 248, 240], np.float32) + 3 * fine[..., None]
        grid = ((yy % 8 == 0) | (xx % 8 == 0))[..., None]
        base = np.where(grid, [160, 205, 170], base)
    elif name == "kraft":
        fibres = _smooth_noise(rng, s, 48) * 30 + 10 * fine
        base = np.array([180, 140, 95], np.float32) + fibres[..., None] - 15
    elif name == "newsprint":
        blotch = _smooth_noise(rng, s, 6) * 20
        specks = (rng.random((s, s)) < 0.02) * -60
        base = np.array([205, 203, 196], np.float32) + (blotch + specks + 4 * fine)[..., None]
    elif name == "parchment":
        blotch = _smooth_noise(rng, s, 5) * 45 + _smooth_noise(rng, s, 20) * 15
        base = np.array([215, 190, 140], np.float32) + (blotch - 30 + 3 * fine)[..., None]
    elif name == "blueprint":
        base = np.array([30, 70, 140], np.float32) + 4 * fine[..., None]
        grid = ((yy % 12 == 0) | (xx % 12 == 0))[..., None]
        base = np.where(grid, [90, 130, 190], base)
    else:
        raise ValueError(f"unknown paper {name!r}")
    return np.clip(base, 0, 255).astype(np.float32)


def _dilate(mask: np.ndarray) -> np.ndarray:
    padded = np.pad(mask, 1)
    h, w = mask.shape
    return np.max([padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)], axis=0)


@dataclass(frozen=True)
class Placement:
    height: int
    x: int
    y: int
    rotation: float


def place_glyph(mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, Placement]:
    """Scale the glyph to a random height, rotate it slightly, and put it fully inside the canvas."""
    rows = np.flatnonzero(mask.max(axis=1) > 0.05)
    cols = np.flatnonzero(mask.max(axis=0) > 0.05)
    mask = mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    height = int(rng.integers(MIN_HEIGHT, MAX_HEIGHT + 1))
    width = max(2, int(round(mask.shape[1] * height / mask.shape[0])))
    rotation = float(rng.uniform(-MAX_ROTATION, MAX_ROTATION))
    img = Image.fromarray(mask, mode="F").resize((width, height), Image.Resampling.BILINEAR)
    img = img.rotate(rotation, resample=Image.Resampling.BILINEAR, expand=True)
    glyph = np.clip(np.asarray(img), 0.0, 1.0)
    if max(glyph.shape) > IMAGE_SIZE:  # a wide glyph after rotation: shrink to fit
        k = IMAGE_SIZE / max(glyph.shape)
        size = (max(2, int(glyph.shape[1] * k)), max(2, int(glyph.shape[0] * k)))
        glyph = np.clip(np.asarray(Image.fromarray(glyph, mode="F").resize(size, Image.Resampling.BILINEAR)), 0, 1)
        height = int(round(height * k))
    gh, gw = glyph.shape
    y = int(rng.integers(0, IMAGE_SIZE - gh + 1))
    x = int(rng.integers(0, IMAGE_SIZE - gw + 1))
    canvas = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    canvas[y:y + gh, x:x + gw] = glyph
    return canvas, Placement(height=height, x=x, y=y, rotation=round(rotation, 2))


@dataclass(frozen=True)
class NoiseBank:
    """Noise made once per build from the seed; each sample takes random crops of it. Drawing
    fresh noise per image cost more than everything else in the compositor."""

    sensor: np.ndarray  # BANK×BANK×3, standard normal
    pressure: np.ndarray  # BANK×BANK, smooth, in [0, 1]: 4 bumps per image side, as before
    grain: np.ndarray  # BANK×BANK, uniform in [0, 1)


BANK = 256


def make_noise_bank(rng: np.random.Generator) -> NoiseBank:
    return NoiseBank(sensor=rng.standard_normal((BANK, BANK, 3), dtype=np.float32),
                     pressure=_smooth_noise(rng, BANK, BANK * 4 // IMAGE_SIZE),
                     grain=rng.random((BANK, BANK), dtype=np.float32))


def compose(paper: np.ndarray, ink_mask: np.ndarray, pen: Pen, bank: NoiseBank,
            rng: np.random.Generator) -> np.ndarray:
    """Write `ink_mask` (64×64 in [0, 1]) on a random crop of `paper` with `pen`: uint8 64×64×3."""
    n = IMAGE_SIZE
    oy, ox = rng.integers(0, TEXTURE - n + 1, size=2)
    sy, sx, py, px, gy, gx = rng.integers(0, BANK - n + 1, size=6)
    background = paper[oy:oy + n, ox:ox + n] * np.float32(rng.uniform(0.9, 1.08))
    ink = ink_mask
    for _ in range(max(0, pen.weight)):
        ink = _dilate(ink) * 0.85 + ink * 0.15
    if pen.weight < 0:
        ink = ink ** (1.0 - 0.5 * pen.weight)
    alpha = ink * (pen.opacity * (1.0 - pen.pressure * bank.pressure[py:py + n, px:px + n]))
    if pen.grain:
        alpha = alpha * (1.0 - pen.grain * bank.grain[gy:gy + n, gx:gx + n])
    alpha = np.clip(alpha, 0.0, 1.0)[..., None]
    color = np.asarray(pen.color, np.float32) * np.float32(rng.uniform(0.9, 1.1))
    out = background + alpha * (color - background)  # ink over paper, by the ink's opacity
    out += 2.0 * bank.sensor[sy:sy + n, sx:sx + n]  # sensor noise
    return np.clip(out, 0, 255).astype(np.uint8)
