"""Making sure the sandbox image exists before a worker needs it, built offline from deploy/."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from basin_grader.sandbox.docker_backend import docker_available, image_present

SOURCE_ROOT = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = SOURCE_ROOT / "deploy" / "sandbox" / "build-offline.sh"


def ensure_sandbox_image(image: str) -> tuple[bool, str]:
    """(ready, why): builds the image with deploy/sandbox/build-offline.sh when it is missing."""
    if not docker_available():
        return False, "no Docker engine answers"
    if image_present(image):
        return True, f"{image} present"
    if not BUILD_SCRIPT.exists():
        return False, f"{image} is missing and {BUILD_SCRIPT} is not here to build it"
    env = os.environ | {"BASIN_SANDBOX_IMAGE": image, "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(BUILD_SCRIPT)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return False, f"building {image} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
    return image_present(image), f"{image} built"
