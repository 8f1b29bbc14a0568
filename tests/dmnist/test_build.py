"""A dataset version is deterministic, balanced, covers every paper × pen, and keeps the shift
paper and pen out of the other splits."""
import csv
import hashlib
import json

import numpy as np
import pytest

from basin_grader import dataset_layout as layout
from dmnist import build
from dmnist.build import PRIVATE_FRACTION
from dmnist.render import MAX_HEIGHT, MIN_HEIGHT, PAPERS, PENS, SHIFT_PAPER, SHIFT_PEN
from tests.conftest import HIDDEN_SEED

COUNTS = {"train": 150, "val": 60, "test": 300, "shift": 60}


def meta(root, split):
    with open(layout.split_file(root, split, layout.META)) as f:
        return list(csv.DictReader(f))


def files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_same_seeds_give_byte_identical_files_and_another_seed_differs(tmp_path, tiny_dataset):
    again = tmp_path / "again"
    build(again, seed=7, counts=COUNTS, progress=False, workers=2, hidden_seed=HIDDEN_SEED)  # other chunking
    assert files(again) == files(tiny_dataset)
    other = tmp_path / "other"
    build(other, seed=8, counts=COUNTS, progress=False, workers=1, hidden_seed=HIDDEN_SEED)
    assert np.load(other / "train/images.npy").tobytes() != np.load(again / "train/images.npy").tobytes()


def test_the_public_seed_and_the_code_cannot_rebuild_the_hidden_labels(tmp_path, tiny_dataset):
    guess = tmp_path / "guess"
    build(guess, seed=7, counts=COUNTS, progress=False, workers=1)  # same public seed, its own hidden seed
    for split in ("train", "val"):
        assert files(guess / split) == files(tiny_dataset / split)
    for name in ("test/labels.npy", "test/images.npy", "test/is_private.npy", "shift/labels.npy"):
        assert (guess / name).read_bytes() != (tiny_dataset / name).read_bytes(), name
    manifest = (tiny_dataset / layout.MANIFEST).read_text()
    assert f"{HIDDEN_SEED:032x}" not in manifest and f"{HIDDEN_SEED}" not in manifest


def test_the_manifest_records_seed_source_counts_and_every_files_sha256(tiny_dataset):
    manifest = json.loads((tiny_dataset / layout.MANIFEST).read_text())
    assert (manifest["seed"], manifest["glyph_source"], manifest["counts"]) == (7, "strokes", COUNTS)
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((tiny_dataset / name).read_bytes()).hexdigest() == digest
    assert len(manifest["files"]) == 3 + 3 + 4 + 3 + 1 + 1  # the splits' files, hidden.json, preview.png


def test_arrays_have_the_documented_shapes_and_load_without_pickle(tiny_dataset):
    for split, n in COUNTS.items():
        images = np.load(layout.split_file(tiny_dataset, split, layout.IMAGES), allow_pickle=False)
        labels = np.load(layout.split_file(tiny_dataset, split, layout.LABELS), allow_pickle=False)
        assert images.shape == (n, 64, 64, 3) and images.dtype == np.uint8
        assert labels.shape == (n,) and labels.dtype == np.int64
        assert np.bincount(labels, minlength=10).tolist() == [n // 10] * 10  # balanced classes


def test_every_paper_and_pen_pair_occurs_in_train_and_the_shift_pair_only_in_shift(tiny_dataset):
    pairs = {(r["paper"], r["pen"]) for r in meta(tiny_dataset, "train")}
    assert pairs == {(paper, pen) for paper in PAPERS for pen in PENS}
    for split in ("train", "val", "test"):
        rows = meta(tiny_dataset, split)
        assert not any(r["paper"] == SHIFT_PAPER or r["pen"] == SHIFT_PEN for r in rows), split
    assert {(r["paper"], r["pen"]) for r in meta(tiny_dataset, "shift")} == {(SHIFT_PAPER, SHIFT_PEN)}


def test_positions_and_sizes_spread_over_the_canvas(tiny_dataset):
    rows = meta(tiny_dataset, "train") + meta(tiny_dataset, "test")
    heights = np.array([int(r["height"]) for r in rows])
    xs, ys = np.array([int(r["x"]) for r in rows]), np.array([int(r["y"]) for r in rows])
    assert heights.min() < MIN_HEIGHT + 6 and heights.max() > MAX_HEIGHT - 8 and heights.max() <= MAX_HEIGHT
    assert xs.min() <= 3 and xs.max() >= 30 and ys.min() <= 3 and ys.max() >= 25


def test_the_test_split_is_split_into_public_and_private_parts_stratified_by_class(tiny_dataset):
    labels = np.load(layout.split_file(tiny_dataset, "test", layout.LABELS))
    private = np.load(layout.split_file(tiny_dataset, "test", layout.IS_PRIVATE))
    for c in range(10):
        assert private[labels == c].mean() == pytest.approx(PRIVATE_FRACTION, abs=0.04)


def test_a_build_refuses_a_non_empty_directory_and_silly_counts(tmp_path):
    (tmp_path / "x").write_text("keep me")
    with pytest.raises(FileExistsError):
        build(tmp_path, counts=COUNTS, progress=False)
    with pytest.raises(ValueError, match="at least 10"):
        build(tmp_path / "new", counts={"train": 3}, progress=False)


def test_the_preview_shows_every_paper_and_pen_with_the_shift_ones(tiny_dataset):
    from PIL import Image

    from dmnist.preview import LABEL_H, LABEL_W, SCALE
    from dmnist.render import IMAGE_SIZE

    preview = np.asarray(Image.open(tiny_dataset / layout.PREVIEW).convert("RGB")).astype(int)
    cell = IMAGE_SIZE * SCALE
    rows, cols = len(PAPERS) + 1, len(PENS) + 1
    assert preview.shape == (LABEL_H + rows * cell, LABEL_W + cols * cell, 3)
    cells = [preview[LABEL_H + i * cell:LABEL_H + (i + 1) * cell, LABEL_W + j * cell:LABEL_W + (j + 1) * cell]
             for i in range(rows) for j in range(cols)]
    assert all(c.std() > 5 for c in cells)  # a drawn sample in every cell, none blank
    backgrounds = [tuple(np.median(c.reshape(-1, 3), axis=0)) for c in cells[::cols]]
    assert len(set(backgrounds)) == rows  # one paper per row, each its own colour
    # The builder's determinism test compares every file, the preview included.
