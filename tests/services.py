"""Which real components answer on this machine. Tests that need one skip, with the reason, where
it does not; the session's last lines say which were exercised."""
from __future__ import annotations

import socket
from functools import cache

import pytest

POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
exercised: dict[str, bool] = {"postgres": False, "redis": False, "docker": False, "chromium": False}


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@cache
def postgres_answers() -> bool:
    if not _port_open(5432):
        return False
    try:
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=3):
            return True
    except Exception:
        return False


@cache
def redis_answers() -> bool:
    if not _port_open(6379):
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=3).ping())
    except redis.RedisError:
        return False


@cache
def docker_sandbox() -> tuple[bool, str]:
    """Whether the Docker sandbox can run: an engine answers and the image exists (built if not)."""
    from basin.grading.sandbox_image import ensure_sandbox_image

    return ensure_sandbox_image("basin-sandbox:cpu")


@cache
def chromium_answers() -> tuple[bool, str]:
    import shutil

    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    if missing:
        return False, f"{' and '.join(missing)} not on PATH (Debian: apt-get install chromium chromium-driver)"
    return True, ""


def either_sandbox() -> str:
    """For a case the worker or the runtime decides the same way on either backend: Docker (the
    production sandbox) where it runs, else the process sandbox. Run once, not once per backend."""
    ok, _ = docker_sandbox()
    exercised["docker"] |= ok
    return "docker" if ok else "process"


def require(component: str) -> None:
    if component == "postgres":
        ok, why = postgres_answers(), "PostgreSQL does not answer on 127.0.0.1:5432"
    elif component == "redis":
        ok, why = redis_answers(), "Redis does not answer on 127.0.0.1:6379"
    elif component == "docker":
        ok, why = docker_sandbox()
    elif component == "chromium":
        ok, why = chromium_answers()
    else:
        raise ValueError(component)
    if not ok:
        pytest.skip(f"needs {component}: {why}")
    exercised[component] = True
