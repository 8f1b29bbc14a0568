"""A student's bare machine for end-to-end tests: a virtual environment of its own, with none of
Basin's sources on its path, and a browser-like session that logs in through the login form."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import requests

from tests import threads

# What a student's environment brings before Basin: PyTorch preinstalled, as Colab has it, and Jupyter.
TORCH = ("torch", "torchvision")
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

    def install_script(self, packages: tuple[str, ...], preinstalled: Path | None = None) -> str:
        """A new venv and the packages, as one shell command (also run in the background by a test
        run's job). --no-compile: modules are compiled when imported. `preinstalled`: a folder the
        venv has on its path, as a machine's system-wide packages are (see preinstalled_layer)."""
        venv_dir, home = shlex.quote(str(self.root / "venv")), shlex.quote(str(self.root / "home"))
        script = f"mkdir -p {home} && {shlex.quote(sys.executable)} -m venv --clear {venv_dir}"
        if preinstalled is not None:
            site = f"{venv_dir}/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
            script += f" && echo {shlex.quote(str(preinstalled))} > {site}/_preinstalled.pth"
        if packages:
            script += f" && {venv_dir}/bin/pip install -q --no-compile {' '.join(map(shlex.quote, packages))}"
        return script

    @property
    def bin(self) -> Path:
        return self.root / "venv" / "bin"

    def env(self, **extra: str) -> dict:
        """Only what a student's shell has: no PYTHONPATH, a home and config of its own; pip keeps
        the machine's own configuration (its package registries), and the test run's thread counts
        (tests/threads.py: they change how fast it trains, not what it does)."""
        kept = ("LANG", "LC_ALL", "TZ", "PIP_CONFIG_FILE", *threads.VARIABLES)
        keep = {k: v for k, v in os.environ.items() if k in kept}
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


def preinstalled_layer(folder: Path, names: tuple[str, ...]) -> Path:
    """A folder of links to the named distributions of this environment and everything they require
    (their packages and their .dist-info, so pip counts them as installed): a venv that puts it on
    its path has them as a machine's system-wide packages, without copying gigabytes of torch."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        distribution = metadata.distribution(name)
        for requirement in map(Requirement, distribution.requires or ()):
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
        site = Path(str(distribution.locate_file("")))
        for top in {file.parts[0] for file in distribution.files or () if file.parts[0] != ".."}:
            if not (folder / top).exists() and (site / top).exists():
                (folder / top).symlink_to(site / top)
    return folder


def browser_session(base: str, username: str, password: str) -> requests.Session:
    """Logged in as a person in a browser is: the login form, with its CSRF token."""
    session = requests.Session()
    form = session.get(f"{base}/accounts/login/", timeout=10)
    csrf = form.cookies.get("csrftoken") or session.cookies.get("csrftoken")
    done = session.post(f"{base}/accounts/login/", timeout=10, headers={"Referer": f"{base}/accounts/login/"},
                        data={"username": username, "password": password, "csrfmiddlewaretoken": csrf})
    assert done.status_code in (200, 302) and "sessionid" in session.cookies, done.text[:500]
    return session
