"""Build one dataset version: four splits, per-sample metadata and a manifest, byte-identical for
the same seeds.

Two seeds: `seed` (public, in the manifest) drives train and val; `hidden_seed` (128 random bits
unless given, kept in hidden.json, never served) drives test and shift and the public/private
assignment, so the generator's public code and seed cannot rebuild the hidden labels. Every sample
draws from its own generator seeded by (split seed, split, index), so the result does not depend
on how the work is chunked across processes.
"""
from __future__ import annotations

import csv
import io
import json
import os
import secrets
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
from tqdm import tqdm

from basin_grader import dataset_layout as layout

from .glyphs import GlyphSource, StrokeGlyphs
from .preview import write_preview
from .render import (
    PAPERS,
    PEN_STYLES,
    PENS,
    SHIFT_PAPER,
    SHIFT_PEN,
    NoiseBank,
    compose,
    make_noise_bank,
    make_paper,
    place_glyph,
)

GENERATOR_VERSION = "3"  # 2: hidden splits drawn from a secret seed; 3: strokes drawn as polylines (faster)
DEFAULT_COUNTS = {"train": 50_000, "val": 10_000, "test": 10_000, "shift": 2_000}
PRIVATE_FRACTION = 0.7  # of each class in the test split; the rest is the public leaderboard part
_SPLIT_CODE = {"train": 1, "val": 2, "test": 3, "shift": 4}
_CHUNK = 500
META_FIELDS = ("index", "glyph_id", "paper", "pen", "height", "x", "y", "rotation")


@lru_cache(maxsize=2)
def _papers(seed: int) -> dict[str, np.ndarray]:
    return {name: make_paper(name, np.random.default_rng([seed, 0, i]))
            for i, name in enumerate(PAPERS + (SHIFT_PAPER,))}


@lru_cache(maxsize=2)
def _noise(seed: int) -> NoiseBank:
    return make_noise_bank(np.random.default_rng([seed, 0, 100]))


def _split_seed(split: str, seed: int, hidden_seed: int) -> int:
    return hidden_seed if split in layout.HIDDEN_SPLITS else seed


def _assignments(seed: int, split: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Balanced labels and (paper, pen) combinations, shuffled: every class and combination occurs."""
    rng = np.random.default_rng([seed, _SPLIT_CODE[split], 0])
    labels = rng.permutation(np.arange(n) % 10).astype(np.int64)
    if split == "shift":
        papers = np.full(n, len(PAPERS))
        pens = np.full(n, len(PENS))
    else:
        combos = rng.permutation(np.arange(n) % (len(PAPERS) * len(PENS)))
        papers, pens = combos % len(PAPERS), combos // len(PAPERS)
    return labels, papers, pens


def _render_chunk(args) -> tuple[np.ndarray, list[tuple]]:
    seed, split_seed, split, start, labels, papers, pens, glyphs = args
    all_papers, bank = _papers(seed), _noise(seed)
    paper_names = PAPERS + (SHIFT_PAPER,)
    pen_names = PENS + (SHIFT_PEN,)
    images = np.empty((len(labels), 64, 64, 3), np.uint8)
    rows = []
    for k, (label, paper, pen) in enumerate(zip(labels, papers, pens, strict=True)):
        index = start + k
        rng = np.random.default_rng([split_seed, _SPLIT_CODE[split], 1, index])
        glyph, glyph_id = glyphs.glyph(int(label), rng, split)
        mask, where = place_glyph(glyph, rng)
        images[k] = compose(all_papers[paper_names[paper]], mask, PEN_STYLES[pen_names[pen]], bank, rng)
        rows.append((index, glyph_id or f"{glyphs.name}:{split}:{index}", paper_names[paper], pen_names[pen],
                     where.height, where.x, where.y, where.rotation))
    return images, rows


def stratified_private(labels: np.ndarray, hidden_seed: int) -> np.ndarray:
    """True for the samples of the private leaderboard part: PRIVATE_FRACTION of each class."""
    rng = np.random.default_rng([hidden_seed, _SPLIT_CODE["test"], 2])
    private = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_public = int(round(len(idx) * (1 - PRIVATE_FRACTION)))
        private[idx[n_public:]] = True
    return private


def _save_npy(path: Path, array: np.ndarray) -> None:
    np.save(path, array, allow_pickle=False)


def _write_meta(path: Path, rows: list[tuple]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(META_FIELDS)
    writer.writerows(rows)
    path.write_text(buf.getvalue())


def build(out: str | Path, seed: int = 0, counts: dict[str, int] | None = None,
          glyphs: GlyphSource | None = None, workers: int | None = None, progress: bool = True,
          hidden_seed: int | None = None) -> dict:
    """Write a dataset version into `out` (created; must be empty) and return its manifest."""
    hidden_seed = secrets.randbits(128) if hidden_seed is None else hidden_seed
    counts = {**DEFAULT_COUNTS, **(counts or {})}
    for split, n in counts.items():
        if split not in layout.SPLITS or n < 10:
            raise ValueError(f"split {split!r} needs a known name and at least 10 samples, got {n}")
    glyphs = glyphs or StrokeGlyphs()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; choose a new directory for a new version")
    workers = workers or min(os.cpu_count() or 1, 8)
    total = sum(counts.values())
    bar = tqdm(total=total, unit="img", desc="dmnist", disable=not progress)
    pool = ProcessPoolExecutor(workers) if workers > 1 and total > 2 * _CHUNK else None
    try:
        for split in layout.SPLITS:
            n = counts[split]
            split_seed = _split_seed(split, seed, hidden_seed)
            labels, papers, pens = _assignments(split_seed, split, n)
            jobs = [(seed, split_seed, split, s, labels[s:s + _CHUNK], papers[s:s + _CHUNK], pens[s:s + _CHUNK], glyphs)
                    for s in range(0, n, _CHUNK)]
            images = np.empty((n, 64, 64, 3), np.uint8)
            rows: list[tuple] = []
            results = pool.map(_render_chunk, jobs) if pool else map(_render_chunk, jobs)
            for job, (chunk, chunk_rows) in zip(jobs, results, strict=True):
                images[job[3]:job[3] + len(chunk)] = chunk
                rows.extend(chunk_rows)
                bar.update(len(chunk))
            folder = out / split
            folder.mkdir(parents=True)
            _save_npy(folder / layout.IMAGES, images)
            _save_npy(folder / layout.LABELS, labels)
            _write_meta(folder / layout.META, rows)
            if split == "test":
                _save_npy(folder / layout.IS_PRIVATE, stratified_private(labels, hidden_seed))
    finally:
        bar.close()
        if pool:
            pool.shutdown()
    write_preview(out / layout.PREVIEW, _papers(seed), _noise(seed), glyphs, seed)
    secret = out / layout.HIDDEN_SEED
    secret.write_text(json.dumps({"hidden_seed": f"{hidden_seed:032x}"}) + "\n")
    secret.chmod(0o600)
    manifest = {
        "name": "difficult-MNIST",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "hidden_seed": f"in {layout.HIDDEN_SEED} (secret: it determines the hidden labels)",
        "glyph_source": glyphs.name,
        "counts": {s: counts[s] for s in layout.SPLITS},
        "papers": list(PAPERS), "pens": list(PENS),
        "shift": {"paper": SHIFT_PAPER, "pen": SHIFT_PEN},
        "private_fraction": PRIVATE_FRACTION,
        "files": {str(p.relative_to(out)): layout.sha256_file(p)
                  for p in sorted(out.rglob("*")) if p.is_file()},
    }
    (out / layout.MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
