"""A student's bare machine for end-to-end tests: a virtual environment of its own, with none of
Basin's sources on its path, and a browser-like session that logs in through the login form."""
from __future__ import annotations

import atexit
import os
import shlex
import subprocess
import sys
from pathlib import Path

import requests

# The torch and torchvision a student's environment brings (here from the machine's local disk).
TORCH = ("torch==2.14.1", "torchvision==0.29.1")
JUPYTER = ("ipykernel==7.4.0", "nbclient==0.11.0", "nbformat==5.11.1")


class BareVenv:
    def __init__(self, root: Path):
        self.root = root

    @classmethod
    def create(cls, root: Path, packages: tuple[str, ...] = ()) -> BareVenv:
        machine = cls(root)
        done = subprocess.run(["/bin/sh", "-c", machine.install_script(packages)], check=False, capture_output=True,
                              text=True, timeout=1800)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return machine

    def install_script(self, packages: tuple[str, ...]) -> str:
        """A new venv and the packages, as one shell command (also run in the background; see
        start_in_background). --no-compile: torch's thousands of modules are compiled when imported."""
        venv_dir, home = shlex.quote(str(self.root / "venv")), shlex.quote(str(self.root / "home"))
        install = f" && {venv_dir}/bin/pip install -q --no-compile {' '.join(map(shlex.quote, packages))}"
        return f"mkdir -p {home} && {shlex.quote(sys.executable)} -m venv --clear {venv_dir}" + (
            install if packages else "")

    def start_in_background(self, packages: tuple[str, ...]) -> subprocess.Popen:
        with open(self.root / "install.log", "w") as log:  # the child keeps its own copy of the file
            process = subprocess.Popen(["/bin/sh", "-c", self.install_script(packages)], stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        atexit.register(lambda: process.poll() is None and process.kill())  # never outlives the session
        return process

    @property
    def bin(self) -> Path:
        return self.root / "venv" / "bin"

    def env(self, **extra: str) -> dict:
        """Only what a student's shell has: no PYTHONPATH, a home and config of its own; pip keeps
        the machine's own configuration (its package registries)."""
        keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TZ", "PIP_CONFIG_FILE")}
        home = str(self.root / "home")
        return keep | {"PATH": f"{self.bin}:/usr/bin:/bin", "HOME": home, "XDG_CONFIG_HOME": f"{home}/.config",
                       "JUPYTER_CONFIG_DIR": f"{home}/.jupyter", "JUPYTER_DATA_DIR": f"{home}/.local/share/jupyter",
                       "IPYTHONDIR": f"{home}/.ipython", "MPLBACKEND": "Agg"} | extra

    def run(self, *args, timeout: float = 600, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(a) for a in args], check=False, capture_output=True, text=True, timeout=timeout,
                              cwd=cwd or self.root / "home", env=self.env(**env))

    def pip(self, *args: str) -> None:
        done = self.run(self.bin / "pip", *args, timeout=900)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    def python(self, code: str, **env: str) -> subprocess.CompletedProcess:
        return self.run(self.bin / "python", "-c", code, **env)


def browser_session(base: str, username: str, password: str) -> requests.Session:
    """Logged in as a person in a browser is: the login form, with its CSRF token."""
    session = requests.Session()
    form = session.get(f"{base}/accounts/login/", timeout=10)
    csrf = form.cookies.get("csrftoken") or session.cookies.get("csrftoken")
    done = session.post(f"{base}/accounts/login/", timeout=10, headers={"Referer": f"{base}/accounts/login/"},
                        data={"username": username, "password": password, "csrfmiddlewaretoken": csrf})
    assert done.status_code in (200, 302) and "sessionid" in session.cookies, done.text[:500]
    return session
