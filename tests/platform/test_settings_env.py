"""Settings are read through typed helpers that fail loudly, naming the variable."""
import pytest
from django.core.exceptions import ImproperlyConfigured

from basin.env import env_bool, env_choice, env_int, env_list, env_str

# Storage, broker, logs and settings: the same on SQLite and PostgreSQL; not re-run there.


def test_a_bad_boolean_names_the_variable_and_the_accepted_values(monkeypatch):
    monkeypatch.setenv("BASIN_DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match=r"BASIN_DEBUG='maybe' is not a boolean: use one of 1/0"):
        env_bool("BASIN_DEBUG", False)


def test_booleans_accept_the_usual_spellings(monkeypatch):
    for raw, value in [("1", True), ("yes", True), ("ON", True), ("0", False), ("false", False), ("off", False)]:
        monkeypatch.setenv("X_FLAG", raw)
        assert env_bool("X_FLAG", not value) is value


def test_numbers_are_checked_for_form_and_minimum(monkeypatch):
    monkeypatch.setenv("BASIN_MAX_ATTEMPTS", "three")
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env_int("BASIN_MAX_ATTEMPTS", 3)
    monkeypatch.setenv("BASIN_MAX_ATTEMPTS", "0")
    with pytest.raises(ImproperlyConfigured, match="below its minimum of 1"):
        env_int("BASIN_MAX_ATTEMPTS", 3, minimum=1)


def test_choices_list_the_allowed_values(monkeypatch):
    monkeypatch.setenv("BASIN_SANDBOX_BACKEND", "vm")
    with pytest.raises(ImproperlyConfigured, match="not one of: auto, docker, process"):
        env_choice("BASIN_SANDBOX_BACKEND", "auto", ("auto", "docker", "process"))


def test_secrets_can_come_from_a_file(monkeypatch, tmp_path):
    (tmp_path / "key").write_text("s3cret\n")
    monkeypatch.delenv("BASIN_SECRET_KEY", raising=False)
    monkeypatch.setenv("BASIN_SECRET_KEY_FILE", str(tmp_path / "key"))
    assert env_str("BASIN_SECRET_KEY", "") == "s3cret"
    monkeypatch.setenv("BASIN_SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_str("BASIN_SECRET_KEY", "")


def test_lists_are_comma_separated(monkeypatch):
    monkeypatch.setenv("BASIN_ALLOWED_HOSTS", "basin.example.edu, localhost,")
    assert env_list("BASIN_ALLOWED_HOSTS", []) == ["basin.example.edu", "localhost"]


def test_every_variable_read_is_listed_in_env_example():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    read = set(re.findall(r'env_\w+\("([A-Z_]+)"', (root / "platform/basin/settings.py").read_text()))
    read |= {"DATABASE_URL", "CELERY_BROKER_URL"}
    listed = set(re.findall(r"^#?\s*([A-Z_]+)=", (root / "deploy/.env.example").read_text(), re.M))
    assert read <= listed, f"missing from deploy/.env.example: {sorted(read - listed)}"


@pytest.mark.parametrize("diagnostics, queues", [("cpu", "scoring,basin,diagnostics"), ("off", "scoring,basin")])
def test_a_worker_without_diagnostics_does_not_take_their_queue(tmp_path, diagnostics, queues):
    import os
    import subprocess
    import sys

    env = os.environ | {"BASIN_DIAGNOSTICS": diagnostics, "BASIN_DATA_DIR": str(tmp_path),
                        "DJANGO_SETTINGS_MODULE": "basin.settings"}
    done = subprocess.run([sys.executable, "-c",
                           "from django.conf import settings; print(settings.BASIN_WORKER_QUEUES)"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == queues, done.stderr


@pytest.mark.parametrize("production, accepted", [(False, True), (True, False)])
def test_leases_shorter_than_a_minute_are_for_tests_and_demos_only(tmp_path, production, accepted):
    """A chaos test waits out a killed worker's lease in seconds; production keeps at least a minute
    (a lease shorter than a container start would re-queue healthy runs)."""
    import os
    import subprocess
    import sys

    env = os.environ | {"BASIN_LEASE_SECONDS": "20", "BASIN_LEASE_MARGIN_SECONDS": "10",
                        "BASIN_DATA_DIR": str(tmp_path), "BASIN_PRODUCTION": "1" if production else "0",
                        "BASIN_SECRET_KEY": "k" * 50, "BASIN_ALLOWED_HOSTS": "basin.example",
                        "DJANGO_SETTINGS_MODULE": "basin.settings"}
    read = "from django.conf import settings; print(settings.BASIN_LEASE_SECONDS)"
    done = subprocess.run([sys.executable, "-c", read], env=env, capture_output=True, text=True, timeout=60)
    if accepted:
        assert done.stdout.strip() == "20", done.stderr
    else:
        assert done.returncode != 0 and "BASIN_LEASE_SECONDS" in done.stderr and "minimum of 60" in done.stderr
