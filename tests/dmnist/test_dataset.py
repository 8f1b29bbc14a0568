"""The students' side: DifficultMNIST downloads a homework's public splits from a live Basin over
HTTP, verifies every file's sha256, and behaves like torchvision's MNIST. Hidden splits are never
served."""
from __future__ import annotations

import numpy as np
import pytest
import requests
from PIL import Image

from basin_grader import dataset_layout as layout
from dmnist.dataset import DatasetError, DifficultMNIST


@pytest.fixture
def dataset_url(live_server, homework):
    return f"{live_server.url}/api/homeworks/{homework.slug}/dataset/"


def token_of(persona, people):
    from tests.tokens import token_for

    return token_for(people[persona])


def test_a_public_split_downloads_verifies_and_reads_like_torchvision_mnist(tmp_path, dataset_url, tiny_dataset):
    from torchvision.transforms import ToTensor

    train = DifficultMNIST(tmp_path / "data", split="train", download=True, url=dataset_url)
    for name in layout.PUBLIC_FILES:
        assert (tmp_path / "data" / "train" / name).read_bytes() == (tiny_dataset / "train" / name).read_bytes()
    image, label = train[0]
    assert isinstance(image, Image.Image) and image.size == (64, 64) and image.mode == "RGB"
    assert label == int(np.load(tiny_dataset / "train" / "labels.npy")[0]) and len(train) == 150
    assert list(train.meta.columns)[:4] == ["index", "glyph_id", "paper", "pen"]
    tensor, _ = DifficultMNIST(tmp_path / "data", split="train", transform=ToTensor())[0]
    assert tensor.shape == (3, 64, 64) and tensor.dtype.is_floating_point
    # Present and intact: a second download fetches nothing (the files keep their inode).
    before = (tmp_path / "data" / "train" / "images.npy").stat().st_ino
    DifficultMNIST(tmp_path / "data", split="train", download=True, url=dataset_url)
    assert (tmp_path / "data" / "train" / "images.npy").stat().st_ino == before


def test_nothing_hidden_is_listed_or_served(dataset_url, tmp_path):
    manifest = requests.get(dataset_url, timeout=10).json()
    public = {f"{s}/{n}" for s in layout.PUBLIC_SPLITS for n in layout.PUBLIC_FILES} | {layout.PREVIEW}
    assert set(manifest["files"]) == public
    assert set(manifest["counts"]) == set(layout.PUBLIC_SPLITS) and "hidden_seed" not in str(manifest)
    for name in ("test/labels.npy", "test/images.npy", "shift/labels.npy", "test/is_private.npy"):
        r = requests.get(dataset_url + name, timeout=10)
        assert r.status_code == 403 and r.json()["error"]["code"] == "hidden_split"
    for name in ("hidden.json", "manifest.json"):
        r = requests.get(dataset_url + name, timeout=10)
        assert r.status_code == 404 and b"hidden_seed" not in r.content
    with pytest.raises(ValueError, match="hidden"):
        DifficultMNIST(tmp_path, split="test")


def test_a_corrupted_download_is_refused_and_not_kept(dataset_url, tiny_dataset, tmp_path, settings):
    served = tiny_dataset / "val" / "labels.npy"
    original = served.read_bytes()
    served.write_bytes(original[:-8] + b"\x01" * 8)  # what a broken proxy or a tampered mirror delivers
    try:
        with pytest.raises(DatasetError, match="failed its checksum"):
            DifficultMNIST(tmp_path, split="val", download=True, url=dataset_url)
    finally:
        served.write_bytes(original)
    assert not (tmp_path / "val" / "labels.npy").exists()
    assert [p.name for p in (tmp_path / "val").iterdir()] == ["images.npy"]  # nothing half-written left


def test_a_course_only_homework_needs_a_members_token(dataset_url, homework, people, tmp_path):
    homework.leaderboard_is_public = False
    homework.save()
    with pytest.raises(DatasetError, match="token"):
        DifficultMNIST(tmp_path / "anon", download=True, url=dataset_url)
    with pytest.raises(DatasetError, match="404"):
        DifficultMNIST(tmp_path / "outsider", download=True, url=dataset_url, token=token_of("outsider", people))
    train = DifficultMNIST(tmp_path / "member", download=True, url=dataset_url, token=token_of("student", people))
    assert len(train) == 150


def test_clear_errors_without_data_or_url(tmp_path):
    with pytest.raises(DatasetError, match="download=True"):
        DifficultMNIST(tmp_path)
    with pytest.raises(DatasetError, match="needs the homework's dataset URL"):
        DifficultMNIST(tmp_path, download=True)
    with pytest.raises(DatasetError, match="cannot reach"):
        DifficultMNIST(tmp_path, download=True, url="http://127.0.0.1:9/api/homeworks/x/dataset/")
    with pytest.raises(ValueError, match="unknown split"):
        DifficultMNIST(tmp_path, split="training")


def test_traversal_paths_reach_the_server_raw_and_are_refused(client, homework):
    # HTTP clients drop dot segments before sending; Django's test client sends the path as written.
    base = f"/api/homeworks/{homework.slug}/dataset/"
    for name in ("train/../test/labels.npy", "train/../hidden.json", "train/%2e%2e/test/labels.npy",
                 "train/..%2ftest/labels.npy", "./train/labels.npy", "train//labels.npy", "/etc/passwd"):
        r = client.get(base + name)
        assert r.status_code in (403, 404), name
        assert not r.has_header("Content-Disposition"), name
