"""What Basin keeps in its data directory without being told to (BASIN_DATA_DIR): the directory
itself, outside production the static root, the embedded broker's folders, and, where the
environment gives none, a secret key (outside production only) and an instance id of its own.

Made when Basin starts (django.setup(), through basin.apps.BasinConfig.ready: the web, every
management command, the Celery worker and beat), never when the settings are imported: the
settings only read the key and the id where an earlier start made them."""
from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def read(path: Path | None) -> str:
    """The file's contents, stripped; "" where there is no such file (yet)."""
    if path is None:
        return ""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


def made(path: Path, make: Callable[[], str], mode: int) -> str:
    """The file's contents, stripped, writing make() into it first where it does not exist. Processes
    that start together agree: each writes a file of its own beside it and links it into place,
    which only the first can do; the others read that one. No one reads a half-written file."""
    if found := read(path):
        return found
    fd, own = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(make())
        os.chmod(own, mode)
        try:
            os.link(own, path)
        except FileExistsError:
            pass  # another process made it first: its contents count
    finally:
        os.unlink(own)
    return read(path)


def prepare(settings: Any) -> None:
    """Make what the settings name and expect to exist, and set the key and the id made here."""
    settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    if not settings.PRODUCTION:
        Path(settings.STATIC_ROOT).mkdir(exist_ok=True)  # no collectstatic needed to try Basin
    if settings.CELERY_BROKER_URL == "filesystem://":
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        for folder in ("data_folder_in", "data_folder_out", "control_folder"):
            Path(options[folder]).mkdir(parents=True, exist_ok=True)
    if settings.BASIN_OWN_SECRET_KEY_PATH is not None:  # never committed, readable by its owner only
        settings.SECRET_KEY = made(settings.BASIN_OWN_SECRET_KEY_PATH, lambda: secrets.token_urlsafe(50), 0o600)
    if settings.BASIN_OWN_INSTANCE_PATH is not None:
        settings.BASIN_INSTANCE = made(settings.BASIN_OWN_INSTANCE_PATH, lambda: secrets.token_hex(6), 0o644)
