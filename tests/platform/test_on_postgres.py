"""The database tests of this folder again, on PostgreSQL (the production database)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import services

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.postgres
def test_the_platform_tests_pass_on_postgresql(tmp_path):
    if os.environ.get("DATABASE_URL"):
        pytest.skip("this run is already on DATABASE_URL; not nested again")
    services.require("postgres")
    env = os.environ | {"DATABASE_URL": services.POSTGRES_URL, "BASIN_DATA_DIR": str(tmp_path)}
    # pytest-django makes and drops its own test database (test_test) on that server.
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/platform",
                           "-k", "not test_the_platform_tests_pass_on_postgresql", "-m", "not database_neutral"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in summary and "failed" not in summary, summary
