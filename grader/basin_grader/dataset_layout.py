"""Where a dataset version keeps its files, and which of them a student may ever see.

The contract between the dataset builder (dmnist, which writes) and the grader (which reads);
it lives here because the grader must be installable without the builder.

    VERSION/manifest.json
    VERSION/{train,val}/images.npy labels.npy meta.csv     public: served to students
    VERSION/{test,shift}/images.npy                          hidden images: the sandbox sees these
    VERSION/{test,shift}/labels.npy meta.csv                 hidden: only the trusted scorer reads them
    VERSION/test/is_private.npy                              leaderboard part of each test sample
    VERSION/hidden.json                                      the seed of the hidden splits (secret)
    VERSION/preview.png                                      a grid of samples: paper × pen
"""
from __future__ import annotations

import hashlib
from pathlib import Path

PUBLIC_SPLITS = ("train", "val")
HIDDEN_SPLITS = ("test", "shift")
SPLITS = PUBLIC_SPLITS + HIDDEN_SPLITS

IMAGES = "images.npy"
LABELS = "labels.npy"
META = "meta.csv"
IS_PRIVATE = "is_private.npy"
MANIFEST = "manifest.json"
HIDDEN_SEED = "hidden.json"

PREVIEW = "preview.png"

# The files of a public split, in the order the dataset class and the download API list them.
PUBLIC_FILES = (IMAGES, LABELS, META)


def split_file(root: str | Path, split: str, name: str) -> Path:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; the splits are {', '.join(SPLITS)}")
    return Path(root) / split / name


def is_public(relative_path: str) -> bool:
    """Whether a file of a version (path relative to it, '/'-separated) may be served to students."""
    parts = relative_path.split("/")
    if parts == [PREVIEW]:
        return True
    return len(parts) == 2 and parts[0] in PUBLIC_SPLITS and parts[1] in PUBLIC_FILES


def sha256_file(path: Path) -> str:
    """The digest the manifest records for each file, and what a download is checked against."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
