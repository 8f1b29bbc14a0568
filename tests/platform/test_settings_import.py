"""Importing basin.settings writes nothing and loads no plotting library: what Basin keeps in its data
directory (the directory, the static root, the broker's folders, its own secret key and instance id)
is made when it starts, by django.setup() (basin.local_files), and read by every start after."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from basin import local_files

# Settings and files only: the same on SQLite and PostgreSQL; not re-run there.
IMPORT = "import json, sys, basin.settings; print(json.dumps(sorted(m for m in sys.modules if m.startswith('plotly'))))"
START = ("import django, json; django.setup(); from django.conf import settings; "
         "print(json.dumps([settings.SECRET_KEY, settings.BASIN_INSTANCE]))")


def python(code: str, data_dir: Path, cwd: Path, **extra: str) -> subprocess.CompletedProcess:
    """`python -c code` in a fresh process, with none of the settings' variables but these."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BASIN_", "DATABASE_URL", "CELERY_"))}
    env |= {"BASIN_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "basin.settings"} | extra
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_importing_the_settings_writes_nothing_and_loads_no_plotly(tmp_path):
    data, cwd = tmp_path / "data", tmp_path / "cwd"
    data.mkdir()
    cwd.mkdir()
    done = python(IMPORT, data, cwd)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []  # plotly.js is found on disk for the static files, not imported
    assert tree(tmp_path) == ["cwd", "data"]  # nothing in the data directory, nor a ./var beside it

    missing = tmp_path / "not-yet"
    done = python(IMPORT, missing, cwd)
    assert done.returncode == 0, done.stderr
    assert not missing.exists()


def test_the_first_start_makes_the_files_and_every_start_after_reads_them(tmp_path):
    data = tmp_path / "data"
    first = python(START, data, tmp_path)
    assert first.returncode == 0, first.stderr
    key, instance = json.loads(first.stdout)
    assert (data / "secret_key").read_text() == key and len(key) >= 50
    assert stat.S_IMODE((data / "secret_key").stat().st_mode) == 0o600
    assert (data / "instance_id").read_text() == instance and instance
    assert {"broker/queue", "broker/control", "static"} <= set(tree(data))
    again = python(START, data, tmp_path)
    assert json.loads(again.stdout) == [key, instance], again.stderr
    # ... and once made, importing the settings alone reads them.
    read = python("import json, basin.settings as s; print(json.dumps([s.SECRET_KEY, s.BASIN_INSTANCE]))", data,
                  tmp_path)
    assert json.loads(read.stdout) == [key, instance], read.stderr


def test_a_given_key_and_instance_make_no_files(tmp_path):
    data = tmp_path / "data"
    done = python(START, data, tmp_path, BASIN_SECRET_KEY="k" * 50, BASIN_INSTANCE="basin-prod")
    assert json.loads(done.stdout) == ["k" * 50, "basin-prod"], done.stderr
    assert not {"secret_key", "instance_id"} & set(tree(data))


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    data = tmp_path / "data"
    done = python(START, data, tmp_path, BASIN_PRODUCTION="1", BASIN_ALLOWED_HOSTS="basin.example")
    assert done.returncode != 0
    assert "BASIN_SECRET_KEY (or BASIN_SECRET_KEY_FILE) must be set when BASIN_PRODUCTION=1" in done.stderr
    assert not data.exists()


def test_processes_that_make_a_file_at_once_agree_on_it(tmp_path):
    path = tmp_path / "secret_key"
    assert local_files.made(path, lambda: "first", 0o600) == "first"
    assert local_files.made(path, lambda: "second", 0o600) == "first"  # made already: read, not replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]  # no file of its own left beside it
