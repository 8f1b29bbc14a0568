"""What the student toolkit holds, its version, and building its wheel.

One distribution, `basin-toolkit`, with three import packages taken from the sources this server
runs, so the toolkit always matches the server:
- `basin_cli`, the `basin` command (whole);
- `dmnist`, only the `DifficultMNIST` class: never the generator, which with a course's seed could
  rebuild its hidden split;
- `basin_grader`, only the loading code `basin check` runs, never the sandbox or scoring.
The plain install is the command alone (no torch, no numpy); the `check` extra adds what runs
beside the student's own PyTorch (the dataset class, `basin check`, `basin bundle`'s Python side).
Torch is never a dependency: the student's environment (Colab's, a laptop's) brings its own.

The version is the command's own plus a digest of every file shipped (`0.1.0+g1a2b3c4d5e`): a
local version label, which PyPI refuses, so a pinned install can only come from this server.
Builds are reproducible (fixed file times and modes), so every web process serves the same bytes."""
from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

import basin_cli

DISTRIBUTION = "basin-toolkit"
# Per import package, the files shipped (relative to the package's folder), named one by one: a
# stray file in a package's folder is never shipped (tests/toolkit checks basin_cli's are all here).
SHIPPED: dict[str, tuple[str, ...]] = {
    "basin_cli": ("__init__.py", "__main__.py", "bundle.py", "config.py", "download.py", "http.py", "terminal.py"),
    "dmnist": ("__init__.py", "dataset.py"),
    "basin_grader": ("__init__.py", "archive_reading.py", "convention.py", "dataset_layout.py", "formats.py",
                     "local_check.py", "safetensors_header.py", "verdicts.py",
                     "runtime/__init__.py", "runtime/loading.py", "runtime/predict.py"),
}
REQUIRES_PYTHON = ">=3.10"
DEPENDENCIES = ("requests>=2.28", "requests-toolbelt>=1.0", "tqdm>=4.60")
CHECK_EXTRA = ("numpy>=1.26", "pillow>=10", "pandas>=2", "safetensors>=0.4")
FIXED_TIME = "315532800"  # 1980-01-01, the earliest time a zip holds: reproducible wheels


@dataclass(frozen=True)
class Wheel:
    version: str
    path: Path
    sha256: str

    @property
    def filename(self) -> str:
        return self.path.name


def package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None, f"{package} is not importable here"
    return Path(spec.origin).parent


def shipped_files() -> list[tuple[str, Path]]:
    """(path inside the wheel, source file), in a fixed order."""
    return [(f"{package}/{name}", package_dir(package) / name) for package, names in SHIPPED.items()
            for name in names]


def pyproject(version: str) -> str:
    def quoted(items):
        return ", ".join(f'"{item}"' for item in items)

    return f'''[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "{DISTRIBUTION}"
version = "{version}"
description = "The student toolkit of a Basin course: the basin command, the DifficultMNIST dataset, basin check."
requires-python = "{REQUIRES_PYTHON}"
dependencies = [{quoted(DEPENDENCIES)}]

[project.optional-dependencies]
check = [{quoted(CHECK_EXTRA)}]

[project.scripts]
basin = "basin_cli.__main__:main"

[tool.setuptools]
packages = [{quoted(sorted({name.rsplit("/", 1)[0].replace("/", ".") for name, _ in shipped_files()}))}]
'''


@functools.cache
def current_version() -> str:
    """The version of the toolkit built from the sources running now (cached: they do not change
    under a running process)."""
    digest = hashlib.sha256(pyproject("").encode())
    for name, source in shipped_files():
        digest.update(name.encode() + b"\0" + source.read_bytes() + b"\0")
    return f"{basin_cli.BASE_VERSION}+g{digest.hexdigest()[:10]}"


def wheel_name(version: str) -> str:
    return f"{DISTRIBUTION.replace('-', '_')}-{version}-py3-none-any.whl"


def _sha256(path: Path) -> str:
    return _digest_of(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _digest_of(path: str, mtime_ns: int) -> str:  # a wheel is never rewritten in place (it lands by rename)
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _stage(root: Path, version: str) -> None:
    (root / "pyproject.toml").write_text(pyproject(version))
    for name, source in shipped_files():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        os.chmod(target, 0o644)
    # The version the command reports (User-Agent, --version) is the wheel's own.
    (root / "basin_cli" / "_build.py").write_text(f'VERSION = "{version}"\n')


def _build(stage: Path, out: Path) -> Path:
    from build import ProjectBuilder

    def runner(cmd, cwd=None, extra_environ=None):
        # Fixed times and a fixed umask: setuptools' copies take the process's umask as their mode,
        # and the modes are in the wheel, so another machine would otherwise build other bytes.
        subprocess.run(cmd, cwd=cwd, env={**os.environ, **(extra_environ or {}), "SOURCE_DATE_EPOCH": FIXED_TIME},
                       umask=0o022, check=True, capture_output=True)

    return Path(ProjectBuilder(stage, runner=runner).build("wheel", out))


def kept(directory: Path | None = None) -> list[Wheel]:
    """Every build this server has made, newest first: a notebook downloaded before a redeploy pins
    its own build and still installs it (and `basin` then says how to upgrade)."""
    directory = directory or settings.BASIN_TOOLKIT_DIR
    prefix = f"{DISTRIBUTION.replace('-', '_')}-"
    found = [p for p in directory.glob(f"{prefix}*-py3-none-any.whl") if p.is_file()]
    return [Wheel(p.name[len(prefix):-len("-py3-none-any.whl")], p, _sha256(p))
            for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]


def ensure_built(directory: Path | None = None) -> Wheel:
    """The current toolkit's wheel, built now if this server has not built it yet. Builds are
    serialized by a lock file and land by rename, so concurrent web processes never serve half a file."""
    directory = directory or settings.BASIN_TOOLKIT_DIR
    version = current_version()
    target = directory / wheel_name(version)
    if not target.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / ".build.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not target.is_file():
                with tempfile.TemporaryDirectory(prefix="basin-toolkit-") as tmp:
                    stage, out = Path(tmp) / "src", Path(tmp) / "dist"
                    stage.mkdir()
                    _stage(stage, version)
                    built = _build(stage, out)
                    partial = directory / f".{target.name}.partial"
                    shutil.copyfile(built, partial)
                    os.replace(partial, target)
    return Wheel(version, target, _sha256(target))
