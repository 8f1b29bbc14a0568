"""Making sure the sandbox image exists before a worker needs it, built offline from deploy/."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import hashlib

from basin_grader.sandbox.docker_backend import docker_available, image_labels

SOURCE_ROOT = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = SOURCE_ROOT / "deploy" / "sandbox" / "build-offline.sh"
SOURCE_LABEL = "basin.grader-source"


def grader_source_hash() -> str:
    """What the image's runtime was built from: grader/ and the image's own recipe."""
    h = hashlib.sha256()
    files = sorted((SOURCE_ROOT / "grader").rglob("*.py")) + sorted((SOURCE_ROOT / "deploy" / "sandbox").glob("*"))
    for path in files:
        if path.is_file() and "build" not in path.relative_to(SOURCE_ROOT).parts[:2]:
            h.update(str(path.relative_to(SOURCE_ROOT)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def ensure_sandbox_image(image: str) -> tuple[bool, str]:
    """(ready, why): builds the image with deploy/sandbox/build-offline.sh when it is missing or was
    built from other grader sources than these (a stale runtime must not grade)."""
    if not docker_available():
        return False, "no Docker engine answers"
    labels = image_labels(image)
    if not BUILD_SCRIPT.exists():  # an installed Basin without its sources: use the image as it is
        return (labels is not None), f"{image} {'present' if labels is not None else 'is missing'}"
    wanted = grader_source_hash()
    if labels is not None and labels.get(SOURCE_LABEL) == wanted:
        return True, f"{image} present"
    env = os.environ | {"BASIN_SANDBOX_IMAGE": image, "PYTHON": sys.executable, "BASIN_SANDBOX_LABEL": f"{SOURCE_LABEL}={wanted}"}
    done = subprocess.run(["bash", str(BUILD_SCRIPT)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return False, f"building {image} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
    built = image_labels(image) or {}
    return built.get(SOURCE_LABEL) == wanted, f"{image} built from the current grader sources"
