"""`pip install ./starter_kit` in a fresh virtual environment gives a working `basin` without torch."""
from __future__ import annotations

import subprocess
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_cli_installs_on_its_own_and_needs_no_torch(tmp_path):
    venv.create(tmp_path / "venv", with_pip=True)
    bindir = tmp_path / "venv" / "bin"
    install = subprocess.run([bindir / "pip", "install", "-q", str(ROOT / "starter_kit")], capture_output=True,
                             text=True, timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr
    freeze = subprocess.run([bindir / "pip", "freeze"], capture_output=True, text=True).stdout.lower()
    assert "torch" not in freeze and "basin-cli" in freeze
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path)}
    helped = subprocess.run([bindir / "basin", "--help"], capture_output=True, text=True, env=env)
    assert helped.returncode == 0 and "download" in helped.stdout and "submit" in helped.stdout
    (tmp_path / "model.zip").write_bytes(b"PK")
    check = subprocess.run([bindir / "basin", "check", str(tmp_path / "model.zip")], capture_output=True, text=True,
                           env=env)
    assert check.returncode == 2 and "needs PyTorch" in check.stderr and "Traceback" not in check.stderr
    offline = subprocess.run([bindir / "basin", "--url", "http://127.0.0.1:9", "status", "1"], capture_output=True,
                             text=True, env=env)
    assert offline.returncode == 3 and offline.stderr.startswith("basin: Cannot reach")
