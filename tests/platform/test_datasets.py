"""Dataset versions: only versions whose hidden splits come from a secret seed are registered."""
import shutil
import subprocess
import sys

import pytest

from basin.courses.services import register_dataset_version
from basin.errors import ApplicationError
from dmnist import GENERATOR_VERSION

pytestmark = pytest.mark.django_db


def test_a_version_with_its_hidden_seed_is_registered(tiny_dataset, settings):
    settings.BASIN_DATASETS_DIR = tiny_dataset.parent
    version = register_dataset_version(slug=tiny_dataset.name)
    assert version.seed == 7 and version.manifest["generator_version"] == GENERATOR_VERSION


def test_a_version_without_a_hidden_seed_is_refused(tiny_dataset, tmp_path, settings):
    old = tmp_path / "old-version"
    shutil.copytree(tiny_dataset, old)
    (old / "hidden.json").unlink()
    settings.BASIN_DATASETS_DIR = tmp_path
    with pytest.raises(ApplicationError, match="hidden labels may follow from the public seed"):
        register_dataset_version(slug="old-version")


def test_the_builder_refuses_a_short_hidden_seed(tmp_path):
    done = subprocess.run([sys.executable, "-m", "dmnist", "build", "--out", str(tmp_path / "v"),
                           "--hidden-seed", "1234"], capture_output=True, text=True)
    assert done.returncode == 2 and "32 hex digits" in done.stderr


def test_the_register_dataset_command_registers_a_built_version_or_says_why_not(tiny_dataset, tmp_path, settings,
                                                                                  db, capsys):
    from django.core.management import CommandError, call_command

    settings.BASIN_DATASETS_DIR = tmp_path
    shutil.copytree(tiny_dataset, tmp_path / "dmnist-2026")
    call_command("register_dataset", "dmnist-2026")
    assert "registered dmnist-2026 (shift 60, test 300, train 150, val 60)" in capsys.readouterr().out
    with pytest.raises(CommandError, match="is registered already"):
        call_command("register_dataset", "dmnist-2026")
    with pytest.raises(CommandError, match="holds no built dataset version: build it there first"):
        call_command("register_dataset", "missing-version")
