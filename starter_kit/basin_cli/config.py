"""Settings come from a flag, else an environment variable, else the user's config file."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


def config_path() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "basin" / "config.json"


def load_file() -> dict:
    try:
        values = json.loads(config_path().read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return values if isinstance(values, dict) else {}


def save_file(values: dict) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the token is a secret
    with os.fdopen(fd, "w") as f:
        json.dump(values, f, indent=2)
    os.chmod(path, 0o600)
    return path


@dataclass(frozen=True)
class Settings:
    url: str | None
    token: str | None
    homework: str | None


def _address(url: str | None) -> str | None:
    return (url or "").rstrip("/") or None


def resolve(url: str | None = None, token: str | None = None, homework: str | None = None) -> Settings:
    """A saved token goes only to the server it was saved for: with another address (--url,
    BASIN_URL) it stays home, and that server needs a token of its own (--token, BASIN_TOKEN)."""
    stored = load_file()
    address = _address(url or os.environ.get("BASIN_URL") or stored.get("url"))
    saved_token = stored.get("token") if address == _address(stored.get("url")) else None
    return Settings(
        url=address,
        token=token or os.environ.get("BASIN_TOKEN") or saved_token,
        homework=homework or os.environ.get("BASIN_HOMEWORK") or stored.get("homework"),
    )


def given_token(flag: str | None) -> str | None:
    """A token given for this run (the flag, else BASIN_TOKEN), not one saved by an earlier login:
    `basin login` checks and saves it instead of asking for a password."""
    return flag or os.environ.get("BASIN_TOKEN") or None


def forget_token(token: str) -> Path | None:
    """Remove `token` from the config file (the address and homework stay); the file's path if it held it."""
    stored = load_file()
    if not token or stored.get("token") != token:
        return None
    del stored["token"]
    return save_file(stored)
