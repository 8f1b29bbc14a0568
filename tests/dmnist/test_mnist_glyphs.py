"""Real MNIST digits as the glyph source: read from IDX files (as distributed, gzipped or not, or in
torchvision's MNIST/raw/), public splits from MNIST's training set, hidden ones from its test set."""
from __future__ import annotations

import csv
import gzip
import pickle

import numpy as np
import pytest
from PIL import Image

from basin_grader import dataset_layout as layout
from dmnist import build
from dmnist.glyphs import MnistGlyphs, StrokeGlyphs

COUNTS = {"train": 40, "val": 20, "test": 30, "shift": 20}


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder, per_class: dict[str, int], gzipped: bool = True):
    """Small IDX files in MNIST's format, with digits drawn by the offline generator."""
    rng = np.random.default_rng(0)
    labels_of = {}
    for part, n in per_class.items():
        labels = np.repeat(np.arange(10), n)
        images = np.stack([np.asarray(Image.fromarray((StrokeGlyphs().glyph(int(c), rng)[0] * 255).astype(np.uint8))
                                      .resize((28, 28))) for c in labels])
        for stem, array in ((f"{part}-images-idx3-ubyte", images), (f"{part}-labels-idx1-ubyte", labels)):
            data = idx_bytes(array)
            if gzipped:
                (folder / f"{stem}.gz").write_bytes(gzip.compress(data, mtime=0))
            else:
                (folder / stem).write_bytes(data)
        labels_of[part] = labels
    return labels_of


def meta(root, split):
    with open(layout.split_file(root, split, layout.META)) as f:
        return list(csv.DictReader(f))


def test_public_splits_draw_from_mnist_train_and_hidden_ones_from_t10k(tmp_path):
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    labels_of = write_mnist(mnist, {"train": 6, "t10k": 3})
    glyphs = MnistGlyphs(mnist)
    manifest = build(tmp_path / "v", seed=1, counts=COUNTS, glyphs=glyphs, progress=False, workers=1, hidden_seed=5)
    assert manifest["glyph_source"].startswith("mnist:") and not manifest["glyph_source"].endswith("train-only")
    for split in layout.SPLITS:
        labels = np.load(layout.split_file(tmp_path / "v", split, layout.LABELS))
        expected_part = "t10k" if split in layout.HIDDEN_SPLITS else "train"
        for row, label in zip(meta(tmp_path / "v", split), labels, strict=True):
            source, part, index = row["glyph_id"].split(":")
            assert (source, part) == ("mnist", expected_part)
            assert labels_of[part][int(index)] == label  # the digit drawn is the digit labelled
    again = build(tmp_path / "again", seed=1, counts=COUNTS, glyphs=MnistGlyphs(mnist), progress=False, workers=1,
                  hidden_seed=5)
    assert again["files"] == manifest["files"]  # deterministic
    # Worker processes get the source by pickle: the directory, not 50 MB of digits; the same glyphs.
    shipped = pickle.dumps(glyphs)
    assert len(shipped) < 1000
    assert (pickle.loads(shipped).glyph(3, np.random.default_rng(9), "val")[1]
            == glyphs.glyph(3, np.random.default_rng(9), "val")[1])


def test_torchvisions_layout_and_a_training_set_alone_are_accepted(tmp_path):
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_mnist(raw, {"train": 3}, gzipped=False)
    glyphs = MnistGlyphs(tmp_path / "mnist")
    assert glyphs.name.endswith(":train-only")
    mask, glyph_id = glyphs.glyph(7, np.random.default_rng(0), "test")
    assert mask.shape == (48, 48) and mask.max() > 0.5 and glyph_id.startswith("mnist:train:")
    # With one set for both, the hidden splits' digits are never the public splits' digits.
    rng = np.random.default_rng(1)
    hidden = {glyphs.glyph(c % 10, rng, "test")[1] for c in range(200)}
    public = {glyphs.glyph(c % 10, rng, split)[1] for c in range(200) for split in ("train", "val")}
    assert hidden and public and not hidden & public


def test_a_directory_without_mnist_or_with_a_broken_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        MnistGlyphs(tmp_path)
    write_mnist(tmp_path, {"train": 2}, gzipped=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x63" + b"\x01" * 5)
    with pytest.raises(ValueError, match="header says"):
        MnistGlyphs(tmp_path)


def test_the_command_builds_a_version_from_mnist_and_gives_it_to_a_homework(tmp_path, homework, settings):
    from django.core.management import CommandError, call_command

    from basin.submissions.models import Submission

    settings.BASIN_DATASETS_DIR = tmp_path / "datasets"
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    write_mnist(mnist, {"train": 3, "t10k": 2})
    sizes = [f"--{split}={n}" for split, n in COUNTS.items()]
    call_command("build_dataset", "--slug", "from-mnist", "--mnist-dir", str(mnist), "--homework", homework.slug,
                 *sizes)
    homework.refresh_from_db()
    assert homework.dataset.slug == "from-mnist" and homework.dataset.manifest["glyph_source"].startswith("mnist:")
    Submission.objects.create(homework=homework, user=homework.course.memberships.first().user, status="scored",
                              size=1, sha256="0" * 64, kind="bundle")
    with pytest.raises(CommandError, match="has submissions"):
        call_command("build_dataset", "--slug", "second", "--homework", homework.slug, *sizes)
    with pytest.raises(CommandError, match="train-images"):
        call_command("build_dataset", "--slug", "third", "--mnist-dir", str(tmp_path), *sizes)
