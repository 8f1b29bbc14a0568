"""The layout of DESIGN.md holds: plain top-level folders that shadow nothing, a clean check."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_standard_librarys_platform_module_is_not_shadowed_from_the_repository_root():
    done = subprocess.run([sys.executable, "-c", "import platform; print(platform.system())"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "Linux", done.stderr


def test_top_level_folders_are_plain_folders():
    for folder in ("platform", "grader", "datasets", "starter_kit"):
        assert not (ROOT / folder / "__init__.py").exists(), folder


def test_manage_py_check_is_clean(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "BASIN_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_ci_runs_the_readmes_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    command = readme.split("## Test it", 1)[1].split("```", 2)[1].strip()
    assert command.endswith("&& pytest") and command in (ROOT / ".ci" / "run").read_text().splitlines()
