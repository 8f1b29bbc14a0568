"""The import contracts in pyproject.toml ([tool.importlinter]), checked by import-linter: no import
cycles between sibling modules or apps, and neither the web nor the trusted worker imports torch or
the sandbox's runtime (only the sandbox deserializes and runs what a student sent)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lint(config: Path) -> tuple[bool, str]:
    """import-linter's own command on a configuration: (every contract kept, its report)."""
    pytest.importorskip("importlinter", reason="import-linter is not installed: pip install -e '.[test]'")
    done = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                           "sys.exit(lint_imports_command())", str(config), "--no-cache"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    return done.returncode == 0, done.stdout + done.stderr


def test_the_import_contracts_hold():
    kept, report = lint(ROOT / "pyproject.toml")
    assert kept, report


def test_a_broken_contract_is_reported(tmp_path):
    """Not vacuous: the same graph, with a contract that the code breaks (the worker reads
    submissions), is reported broken, naming the import."""
    config = tmp_path / "contracts.toml"
    config.write_text('[tool.importlinter]\nroot_packages = ["basin"]\n\n[[tool.importlinter.contracts]]\n'
                      'name = "made up to fail"\ntype = "forbidden"\nsource_modules = ["basin.grading.services"]\n'
                      'forbidden_modules = ["basin.submissions"]\n')
    kept, report = lint(config)
    assert not kept and "basin.grading.services -> basin.submissions" in report, report


def test_a_web_process_loads_neither_torch_nor_pandas_nor_plotly(tmp_path):
    """What every web process pays for at start: the settings and every URL's view load no torch,
    and no pandas or plotly (imported only where a table is read or written, or found as files)."""
    import os

    check = ("import os, sys, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'basin.settings'; django.setup(); "
             "import basin.urls; print(sorted(m for m in ('torch', 'pandas', 'plotly') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=os.environ | {"BASIN_DATA_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout
