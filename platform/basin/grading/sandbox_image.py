"""Making sure the sandbox image exists before a worker needs it, built offline from deploy/.

Two images, each built once: the Debian base (deploy/base/build-base.sh: debootstrap, then
`docker import`) and the sandbox image on it (deploy/sandbox/build-offline.sh: the runtime's wheels
and `docker build`). A caller that wants to show progress passes `on_line`, which receives every
line the build prints (the scripts run with BASIN_BUILD_VERBOSE=1); `BuildProgress` turns those
lines into one short status. Builds are serialized across processes on this machine by a lock
file, so a demo and a test session never build the same image twice at once.
"""
from __future__ import annotations

import collections
import fcntl
import hashlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from basin_grader.sandbox.docker_backend import docker_available, image_labels

SOURCE_ROOT = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = SOURCE_ROOT / "deploy" / "sandbox" / "build-offline.sh"
BASE_SCRIPT = SOURCE_ROOT / "deploy" / "base" / "build-base.sh"
SOURCE_LABEL = "basin.grader-source"
LOCK_FILE = Path(tempfile.gettempdir()) / "basin-image-build.lock"

OnLine = Callable[[str], None]


class ImageBuildError(Exception):
    pass


def base_image() -> str:
    """The Debian base the sandbox image starts FROM (build-offline.sh reads the same variable)."""
    return os.environ.get("BASIN_SANDBOX_BASE") or "basin-base:bookworm"


def grader_source_hash() -> str:
    """What the image's runtime was built from: grader/ and the image's own recipe."""
    h = hashlib.sha256()
    files = sorted((SOURCE_ROOT / "grader").rglob("*.py")) + sorted((SOURCE_ROOT / "deploy" / "sandbox").glob("*"))
    for path in files:
        if path.is_file() and "build" not in path.relative_to(SOURCE_ROOT).parts[:2]:
            h.update(str(path.relative_to(SOURCE_ROOT)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def base_image_present() -> bool:
    return image_labels(base_image()) is not None


def sandbox_image_state(image: str) -> str:
    """"current" (built from these grader sources), "stale" (from other ones), "missing", or
    "as-is" (an installed Basin without deploy/: the image is used as it is, if present)."""
    labels = image_labels(image)
    if labels is None:
        return "missing"
    if not BUILD_SCRIPT.exists():
        return "as-is"
    return "current" if labels.get(SOURCE_LABEL) == grader_source_hash() else "stale"


@contextmanager
def build_lock(on_line: OnLine | None = None):
    """One image build at a time on this machine (all Basin checkouts and data dirs share it)."""
    with open(LOCK_FILE, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_line:
                on_line(f"waiting for another process's image build to finish ({LOCK_FILE})")
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(cmd: list[str], env: dict, on_line: OnLine | None) -> None:
    """Runs a build script, handing each line it prints to on_line; raises with its last lines."""
    tail: collections.deque[str] = collections.deque(maxlen=60)
    process = subprocess.Popen(cmd, env=os.environ | env | ({"BASIN_BUILD_VERBOSE": "1"} if on_line else {}),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    assert process.stdout is not None  # stdout=PIPE
    try:
        for line in process.stdout:
            line = line.rstrip("\n")
            tail.append(line)
            if on_line:
                on_line(line)
    finally:
        process.stdout.close()
        code = process.wait()
    if code != 0:
        raise ImageBuildError(f"{Path(cmd[1]).name} exited with {code}:\n"
                              + "\n".join(tail))


def build_base_image(on_line: OnLine | None = None) -> None:
    """deploy/base/build-base.sh: nothing to do if the base exists (checked again under the lock)."""
    with build_lock(on_line):
        _run(["bash", str(BASE_SCRIPT), base_image()], {}, on_line)


def build_sandbox_image(image: str, on_line: OnLine | None = None) -> None:
    """deploy/sandbox/build-offline.sh (the base first, if missing), labelled with the grader sources."""
    wanted = grader_source_hash()
    with build_lock(on_line):
        labels = image_labels(image)
        if labels is not None and labels.get(SOURCE_LABEL) == wanted:
            return  # another process built it while this one waited for the lock
        env = {"BASIN_SANDBOX_IMAGE": image, "BASIN_SANDBOX_BASE": base_image(), "PYTHON": sys.executable,
               "BASIN_SANDBOX_LABEL": f"{SOURCE_LABEL}={wanted}"}
        _run(["bash", str(BUILD_SCRIPT)], env, on_line)
    if (image_labels(image) or {}).get(SOURCE_LABEL) != wanted:
        raise ImageBuildError(f"{image} was built but does not carry {SOURCE_LABEL}={wanted}")


def ensure_sandbox_image(image: str, on_line: OnLine | None = None) -> tuple[bool, str]:
    """(ready, why): builds the image with deploy/sandbox/build-offline.sh when it is missing or was
    built from other grader sources than these (a stale runtime must not grade)."""
    if not docker_available():
        return False, "no Docker engine answers"
    state = sandbox_image_state(image)
    if state == "as-is" or (state == "missing" and not BUILD_SCRIPT.exists()):
        return state == "as-is", f"{image} {'present' if state == 'as-is' else 'is missing'}"
    if state == "current":
        return True, f"{image} present"
    try:
        build_sandbox_image(image, on_line)
    except ImageBuildError as e:
        return False, f"building {image} failed:\n{e}"
    return True, f"{image} built from the current grader sources"


class BuildProgress:
    """Turns the build scripts' output into one short status line, or None for lines that change
    nothing worth showing. Knows debootstrap's "I: <Verb> <package>" lines (counted against the
    packages retrieved), docker build's steps (the legacy builder's "Step N/M :" and BuildKit's
    "#n [k/m]"), pip's progress inside a RUN step, and the scripts' own "base:"/"sandbox:" lines."""

    # "I: Retrieving libacl1 2.3.1-3", "I: Unpacking libacl1:amd64..." (not "I: Retrieving InRelease",
    # nor the stage headers "I: Unpacking required packages...", "I: Configuring the base system...")
    _DEBOOTSTRAP = re.compile(r"^I: (?:(Retrieving|Validating) (\S+) \S+$|(Extracting|Unpacking|Configuring) "
                              r"(?!required |the )([^\s:]+?)(?::\w+)?\.\.\.$)")
    _LEGACY_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)")
    _BUILDKIT_STEP = re.compile(r"^#\d+ \[(?:[\w-]+ )?(\d+)/(\d+)\] (.*)")

    def __init__(self):
        self.counts: collections.Counter[str] = collections.Counter()
        self.step = ""

    @staticmethod
    def _short(text: str, width: int = 56) -> str:
        text = " ".join(text.split())
        return text if len(text) <= width else text[: width - 1] + "…"

    def feed(self, line: str) -> str | None:
        line = line.rstrip()
        if m := self._DEBOOTSTRAP.match(line):
            verb, package = (m[1], m[2]) if m[1] else (m[3], m[4])
            self.counts[verb] += 1
            retrieved = self.counts["Retrieving"]
            if verb == "Retrieving":
                return f"debootstrap: retrieving packages ({retrieved}, now {package})"
            return f"debootstrap: {verb.lower()} {self.counts[verb]}/{retrieved} packages ({package})"
        if line.startswith("I: "):  # debootstrap's other stages: "Resolving dependencies…", "Base system installed…"
            return "debootstrap: " + self._short(line[3:4].lower() + line[4:].rstrip("."))
        if line.startswith(("base: ", "sandbox: ")):
            return self._short(line, 80)
        if m := (self._LEGACY_STEP.match(line) or self._BUILDKIT_STEP.match(line)):
            self.step = f"docker build step {m[1]}/{m[2]}"
            return f"{self.step}: {self._short(m[3])}"
        if self.step and (m := re.match(r"^(?:#\d+ [\d.]+ )?(Processing|Collecting|Installing collected packages|"
                                        r"Successfully installed)\b:? ?(.*)", line)):
            what = Path(m[2].split()[0]).name if m[1] in ("Processing", "Collecting") and m[2] else ""
            return f"{self.step}: pip: {m[1].lower()} {self._short(what, 40)}".rstrip()
        if line.startswith("Sending build context"):
            return "docker build: " + self._short(line)
        return None
