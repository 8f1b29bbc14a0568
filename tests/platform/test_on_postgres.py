"""The tests of this folder marked database_sensitive again, on PostgreSQL (the production
database): those whose outcome rests on what differs between SQLite and PostgreSQL (row locks,
quotas, conditional-UPDATE claims, window functions, the database clock, jsonb's refusals). The
rest of the folder runs on SQLite only; the end-to-end tests run on PostgreSQL too.

The re-run is its own pytest process. It starts as soon as the session's tests are collected
(tests/conftest.py calls `start_if_selected`) and runs beside the rest of the suite: most tests
wait on a sandbox, a server or a browser, so the machine's second core is free for it; this test,
which pytest-django runs among the last, waits for it and reads its result."""
from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import pytest

from tests import run_once, services

ROOT = Path(__file__).resolve().parents[2]
NAME = "test_the_platform_tests_pass_on_postgresql"
JOB = "postgres-rerun"


def _wanted() -> bool:
    return not os.environ.get("DATABASE_URL") and services.postgres_answers()


def start_if_selected(items) -> None:
    """Once per run (tests/run_once.py), by whichever process collects the waiting test first."""
    if run_once.started(JOB) or not any(item.name == NAME for item in items) or not _wanted():
        return
    folder = Path(tempfile.mkdtemp(prefix="basin-postgres-rerun-", dir=run_once.run_dir()))
    env = os.environ | {"DATABASE_URL": services.POSTGRES_URL, "BASIN_DATA_DIR": str(folder)}
    # pytest-django makes and drops its own test database (test_test) on that server; one process
    # (-n 0): it already runs beside the rest of the suite.
    run_once.start(JOB, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", "tests/platform",
                         "-k", f"not {NAME}", "-m", "database_sensitive"], env=env, cwd=ROOT)


@pytest.mark.postgres
def test_the_platform_tests_pass_on_postgresql():
    if os.environ.get("DATABASE_URL"):
        pytest.skip("this run is already on DATABASE_URL; not nested again")
    services.require("postgres")
    start_if_selected([type("Item", (), {"name": NAME})()])  # selected some other way than the collection
    status, output = run_once.wait(JOB, timeout=1800)
    summary = output.strip().splitlines()[-1] if output.strip() else ""
    assert status == 0, output[-9000:]
    assert " passed" in summary and not re.search(r"\b\d+ (failed|errors?)\b", summary), summary
