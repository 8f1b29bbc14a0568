"""The preview: a PNG grid with one row per paper and one column per pen, the shift split's paper
and pen last, drawn from the public seed (it shows styles, never a hidden sample)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .glyphs import GlyphSource
from .render import IMAGE_SIZE, PAPERS, PEN_STYLES, PENS, SHIFT_PAPER, SHIFT_PEN, NoiseBank, compose, place_glyph

SCALE = 2  # each 64×64 sample shown at 128×128
LABEL_W, LABEL_H = 96, 22
_PREVIEW_STREAM = 9  # a generator stream of the public seed used by nothing else


def render_preview(papers: dict[str, np.ndarray], bank: NoiseBank, glyphs: GlyphSource, seed: int) -> Image.Image:
    rows, cols = PAPERS + (SHIFT_PAPER,), PENS + (SHIFT_PEN,)
    cell = IMAGE_SIZE * SCALE
    sheet = Image.new("RGB", (LABEL_W + len(cols) * cell, LABEL_H + len(rows) * cell), "white")
    draw = ImageDraw.Draw(sheet)
    for j, pen in enumerate(cols):
        draw.text((LABEL_W + j * cell + 6, 5), pen + (" (shift)" if pen == SHIFT_PEN else ""), fill="black")
    for i, paper in enumerate(rows):
        draw.text((6, LABEL_H + i * cell + cell // 2 - 6), paper + ("\n(shift)" if paper == SHIFT_PAPER else ""),
                  fill="black")
        for j, pen in enumerate(cols):
            rng = np.random.default_rng([seed, _PREVIEW_STREAM, i, j])
            mask, _ = place_glyph(glyphs.glyph((i * len(cols) + j) % 10, rng, "train")[0], rng)
            sample = Image.fromarray(compose(papers[paper], mask, PEN_STYLES[pen], bank, rng))
            sheet.paste(sample.resize((cell, cell), Image.Resampling.NEAREST), (LABEL_W + j * cell, LABEL_H + i * cell))
    return sheet


def write_preview(path: Path, papers: dict[str, np.ndarray], bank: NoiseBank, glyphs: GlyphSource,
                  seed: int) -> None:
    # No timestamps or other metadata: the same seed gives the same bytes.
    render_preview(papers, bank, glyphs, seed).save(path, format="PNG", optimize=False)
