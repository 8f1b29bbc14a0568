"""`DifficultMNIST`: the students' side of the data, shaped like torchvision.datasets.MNIST.

    train = DifficultMNIST("data", split="train", download=True,
                           url="https://basin.example/api/homeworks/dmnist/dataset/")
    image, label = train[0]          # a PIL image (RGB, 64×64) and an int, or what the transforms make

`root` holds a version's public files (`<split>/images.npy`, `labels.npy`, `meta.csv`) and the
public `manifest.json`; a directory written by `python -m dmnist build` works as it is. Downloads
are checked against the manifest's sha256 before they are kept.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torchvision.datasets import VisionDataset

from basin_grader import dataset_layout as layout

CLASSES = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
           "8 - eight", "9 - nine"]


class DatasetError(RuntimeError):
    """A download or a local copy that cannot be used; the message says what to do."""


class DifficultMNIST(VisionDataset):
    classes = CLASSES

    def __init__(self, root: str | Path, split: str = "train", transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False, url: str | None = None,
                 token: str | None = None) -> None:
        super().__init__(str(root), transform=transform, target_transform=target_transform)
        if split in layout.HIDDEN_SPLITS:
            raise ValueError(f"the {split!r} split is hidden: its labels are the leaderboard's and are never "
                             f"handed out. Train on split='train', validate on split='val'.")
        if split not in layout.PUBLIC_SPLITS:
            raise ValueError(f"unknown split {split!r}; choose 'train' or 'val'")
        self.split = split
        if download:
            self.download(url or os.environ.get("DMNIST_URL"), token or os.environ.get("BASIN_TOKEN"))
        missing = [name for name in layout.PUBLIC_FILES if not self._file(name).is_file()]
        if missing:
            raise DatasetError(f"the {split} split is not in {self.root} (missing {', '.join(missing)}). Pass "
                               "download=True with the homework's dataset URL (shown on its page), or point root "
                               "at a version built with `python -m dmnist build`.")
        self.data = np.load(self._file(layout.IMAGES), mmap_mode="r", allow_pickle=False)  # N×64×64×3 uint8
        self.targets = np.load(self._file(layout.LABELS), allow_pickle=False)
        if self.data.ndim != 4 or self.data.shape[1:] != (64, 64, 3) or len(self.targets) != len(self.data):
            raise DatasetError(f"{self._file(layout.IMAGES)} does not hold {len(self.targets)} 64×64 RGB images; "
                               "delete the split's folder and download it again.")

    def _file(self, name: str) -> Path:
        return layout.split_file(self.root, self.split, name)

    @property
    def meta(self):
        """Per-sample metadata (glyph id, paper, pen, height, position, rotation) as a pandas DataFrame."""
        import pandas as pd

        return pd.read_csv(self._file(layout.META))

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, target = Image.fromarray(np.asarray(self.data[index]), mode="RGB"), int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def extra_repr(self) -> str:
        return f"Split: {self.split}"

    # --- download ---------------------------------------------------------------------------

    def _get(self, url: str, token: str | None):
        request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"} if token else {})
        try:
            return urllib.request.urlopen(request, timeout=60)
        except urllib.error.HTTPError as e:
            detail = ""
            try:
                detail = json.loads(e.read())["error"]["message"]
            except Exception:
                pass
            if e.code in (401, 403, 404) and not token:
                detail = (detail + " " if detail else "") + ("Check the URL; if the homework is not public, pass "
                                                              "token= (or set BASIN_TOKEN) with your Basin token.")
            raise DatasetError(f"{url} answered {e.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            raise DatasetError(f"cannot reach {url}: {e}. Check the URL and your connection.") from None

    def download(self, url: str | None, token: str | None = None) -> None:
        """Fetch this split's public files from a Basin server; keep each only if its sha256 matches
        the server's manifest. Files already here with the right sha256 are not fetched again."""
        if not url:
            raise DatasetError("download=True needs the homework's dataset URL: url='https://…/api/homeworks/"
                               "<homework>/dataset/' (on the homework's page), or set DMNIST_URL.")
        try:
            with self._get(url, token) as response:
                manifest = json.loads(response.read())
            if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
                raise ValueError("not a manifest")
        except ValueError:  # JSON that is not a manifest, or no JSON at all (a web page)
            raise DatasetError(f"{url} did not answer with a dataset manifest: use the URL on the homework's page, "
                               "https://…/api/homeworks/<homework>/dataset/") from None
        except (OSError, http.client.HTTPException) as e:
            raise DatasetError(f"reading {url} failed ({e}); try again") from None
        root = Path(self.root)
        root.mkdir(parents=True, exist_ok=True)
        (root / layout.MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        for name in layout.PUBLIC_FILES:
            key = f"{self.split}/{name}"
            entry = manifest.get("files", {}).get(key)
            if entry is None:
                raise DatasetError(f"the server's manifest has no {key}; is {url} a Basin dataset URL?")
            target = self._file(name)
            if target.is_file() and layout.sha256_file(target) == entry["sha256"]:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{name}.", delete=False) as tmp:
                try:
                    try:
                        with self._get(entry["url"], token) as response:
                            shutil.copyfileobj(response, tmp, 1 << 20)
                    except (OSError, http.client.HTTPException) as e:
                        raise DatasetError(f"downloading {key} broke off ({e}); run again to retry") from None
                    tmp.close()
                    got = layout.sha256_file(Path(tmp.name))
                    if got != entry["sha256"]:
                        raise DatasetError(f"{key} failed its checksum: sha256 {got}, the manifest says "
                                           f"{entry['sha256']}. The download was corrupted; run again to retry.")
                    os.replace(tmp.name, target)
                finally:
                    if os.path.exists(tmp.name):
                        os.unlink(tmp.name)
