"""The code as the architecture asks: ruff (lint and import order) and mypy with django-stubs run clean,
with the settings in pyproject.toml. A tool that is not installed skips, saying so."""
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IMPORT_ROOTS = ("platform", "grader", "datasets", "starter_kit")  # as [tool.setuptools.packages.find] says


def needs(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: pip install -e '.[test]'")


def test_ruff_finds_nothing():
    needs("ruff")
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_with_django_stubs_finds_nothing(tmp_path):
    needs("mypy", "mypy_django_plugin")
    # The plugin imports basin.settings: this checkout's, with its files written under tmp_path.
    env = os.environ | {"PYTHONPATH": os.pathsep.join(str(ROOT / r) for r in IMPORT_ROOTS),
                        "BASIN_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "basin.settings"}
    # A cache kept between runs, one per checkout: a warm run takes seconds, a cold one about a minute.
    cache = Path(tempfile.gettempdir()) / f"basin-mypy-cache-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]}"
    done = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                           "--cache-dir", str(cache)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
