"""The student toolkit's package index (PEP 503) and its wheel: what pip reads, what the wheel holds
and never holds, and the upgrade notice an outdated `basin` gets."""
from __future__ import annotations

import hashlib
import os
import re
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from basin.toolkit import wheel as toolkit

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _toolkit_dir(tmp_path, settings):
    settings.BASIN_TOOLKIT_DIR = tmp_path / "toolkit"


def test_the_index_lists_the_toolkit_to_anyone_without_a_login(client):
    page = client.get("/simple/")
    assert page.status_code == 200 and page["Content-Type"] == "application/vnd.pypi.simple.v1+html"
    assert '<meta name="pypi:repository-version" content="1.0">' in page.content.decode()
    assert re.findall(r'<a href="([^"]+)"', page.content.decode()) == ["/simple/basin-toolkit/"]


def test_the_project_page_links_the_current_wheel_with_its_sha256_and_python_range(client):
    page = client.get("/simple/basin-toolkit/").content.decode()
    (href, requires), = re.findall(r'<a href="([^"]+)" data-requires-python="([^"]+)"', page)
    path, digest = href.split("#sha256=")
    assert path == f"/simple/basin-toolkit/basin_toolkit-{toolkit.current_version()}-py3-none-any.whl"
    assert requires == "&gt;=3.10"  # PEP 503: HTML-escaped
    download = client.get(path)
    body = b"".join(download.streaming_content)
    assert download.status_code == 200 and hashlib.sha256(body).hexdigest() == digest


def test_names_are_normalized_and_other_projects_are_left_to_the_other_indexes(client):
    redirect = client.get("/simple/Basin_Toolkit/")
    assert redirect.status_code == 301 and redirect["Location"] == "/simple/basin-toolkit/"
    assert client.get("/simple/torch/").status_code == 404  # pip then asks its other indexes
    assert client.get("/simple/basin-toolkit/basin_toolkit-0.0.1-py3-none-any.whl").status_code == 404
    assert client.post("/simple/").status_code == 405


def test_the_version_is_the_commands_own_plus_a_digest_of_the_shipped_files(monkeypatch):
    import basin_cli

    version = toolkit.current_version()
    assert re.fullmatch(re.escape(basin_cli.BASE_VERSION) + r"\+g[0-9a-f]{10}", version)  # a local label: not on PyPI
    shipped = toolkit.shipped_files()
    changed = [(name, source) for name, source in shipped if name != "basin_cli/terminal.py"] + [
        ("basin_cli/terminal.py", toolkit.package_dir("basin_cli") / "http.py")]  # one file's bytes differ
    monkeypatch.setattr(toolkit, "shipped_files", lambda: changed)
    toolkit.current_version.cache_clear()
    try:
        assert toolkit.current_version() != version  # a changed source is a new version
    finally:
        monkeypatch.undo()
        toolkit.current_version.cache_clear()


def test_the_wheel_holds_the_students_side_and_never_the_generator_the_sandbox_or_the_platform():
    built = toolkit.ensure_built()
    with zipfile.ZipFile(built.path) as wheel:
        names = set(wheel.namelist())
        metadata = Parser().parsestr(wheel.read(f"basin_toolkit-{built.version}.dist-info/METADATA").decode())
        entry_points = wheel.read(f"basin_toolkit-{built.version}.dist-info/entry_points.txt").decode()
        baked = wheel.read("basin_cli/_build.py").decode()
    code = {n for n in names if n.endswith(".py")}
    assert {"basin_cli/__main__.py", "basin_cli/bundle.py", "dmnist/dataset.py", "basin_grader/local_check.py",
            "basin_grader/runtime/loading.py", "basin_grader/runtime/predict.py"} <= code
    top = {n.split("/")[0] for n in code}
    assert top == {"basin_cli", "dmnist", "basin_grader"}  # no basin (Django, the platform)
    assert not code & {"dmnist/build.py", "dmnist/render.py", "dmnist/glyphs.py", "dmnist/preview.py",
                       "dmnist/__main__.py"}  # the generator: with a seed it rebuilds hidden splits
    assert not [n for n in code if n.startswith(("basin_grader/sandbox/", "basin_grader/scoring",
                                                 "basin_grader/evaluate", "basin_grader/runtime/diagnos"))]
    assert metadata["Name"] == "basin-toolkit" and metadata["Version"] == built.version
    requires = metadata.get_all("Requires-Dist")
    assert not [r for r in requires if r.startswith(("torch", "django", "Django"))]  # torch: the student's own
    assert {r.split(";")[0].split(">")[0] for r in requires if "extra ==" not in r} == {
        "requests", "requests-toolbelt", "tqdm"}  # the plain install stays small
    assert {r.split(">")[0] for r in requires if 'extra == "check"' in r} == {"numpy", "pillow", "pandas",
                                                                              "safetensors"}
    assert "basin = basin_cli.__main__:main" in entry_points and built.version in baked


def test_builds_are_reproducible_so_every_web_process_and_machine_serves_the_same_bytes(tmp_path):
    """`manage.py build_toolkit` in separate processes, with other umasks and at other times, as
    other machines would: the same bytes (pip checks the index's sha256 against the file it gets)."""
    import os
    import subprocess
    import sys
    import time

    digests = set()
    for umask in (0o022, 0o077, 0o002):
        data = tmp_path / f"data-{umask:o}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BASIN_")} | {"BASIN_DATA_DIR": str(data)}
        done = subprocess.run([sys.executable, "manage.py", "build_toolkit"], cwd=ROOT,
                              env=env, umask=umask, check=False, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        (wheel,) = (data / "toolkit").glob("*.whl")
        digests.add(hashlib.sha256(wheel.read_bytes()).hexdigest())
        time.sleep(1.1)  # zip times have a two-second grain: a build that read the clock would differ
    assert len(digests) == 1, digests


def test_older_builds_stay_listed_so_a_notebook_downloaded_before_a_redeploy_still_installs(client, settings):
    current = toolkit.ensure_built()
    older = settings.BASIN_TOOLKIT_DIR / toolkit.wheel_name("0.1.0+g0123456789")
    older.write_bytes(b"an older build")
    os.utime(older, (1, 1))  # made long ago
    page = client.get("/simple/basin-toolkit/").content.decode()
    assert re.findall(r">([^<]+\.whl)</a>", page) == [current.filename, older.name]  # newest first
    download = client.get(f"/simple/basin-toolkit/{older.name}")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"an older build"
    assert client.get("/simple/basin-toolkit/.build.lock").status_code == 404


def test_the_toolkits_dmnist_imports_without_the_generator(tmp_path):
    import subprocess
    import sys

    built = toolkit.ensure_built()
    with zipfile.ZipFile(built.path) as wheel:
        wheel.extractall(tmp_path / "site")
    probe = "import dmnist, basin_grader.formats, basin_cli.bundle; print(dmnist.__file__, 'build' in dir(dmnist))"
    # -S: no site-packages, so nothing of Basin's own sources (an editable install) can fill the gap
    done = subprocess.run([sys.executable, "-I", "-S", "-c",
                           f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r}); {probe}"],
                          check=False, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(tmp_path / "site" / "dmnist" / "__init__.py"), "False"]


@pytest.mark.parametrize("agent, told", [
    ("basin-toolkit/0.1.0+g0000000000", True),  # a wheel from an older build of this server
    ("basin-toolkit/{current}", False),
    ("basin-toolkit/0.1.0", False),  # Basin's own sources
    ("python-requests/2.34", False),
    ("basin-toolkit/1+\x1b]0;pwn\x07", False),  # never echoed: not a version a build writes
    ("basin-toolkit/1+" + "9" * 200, False),
])
def test_an_outdated_client_is_told_in_one_line_how_to_upgrade(client, agent, told):
    current = toolkit.current_version()
    response = client.get("/api/homeworks/hw1/", HTTP_USER_AGENT=agent.format(current=current))
    line = response.headers.get("Basin-Toolkit-Upgrade")
    if not told:
        assert line is None
        return
    assert response.status_code == 401  # told even when refused: an old client may be why
    assert "User-Agent" in response["Vary"]
    assert line == (f"this server's toolkit is {current}, yours is 0.1.0+g0000000000; upgrade with: "
                    f'pip install --extra-index-url http://testserver/simple/ --trusted-host testserver '
                    f'"basin-toolkit=={current}"')  # plain http to another machine: pip must be told to trust it


def test_pips_questions_about_other_projects_are_not_logged_as_warnings(rf):
    """pip asks every index for every dependency: a 404 under /simple/ is routine, other 404s are not."""
    import logging

    from basin.logs import IndexMissFilter

    def record(path: str) -> logging.LogRecord:
        line = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found: %s", (path,), None)
        line.status_code, line.request = 404, rf.get(path)
        return line

    assert not IndexMissFilter().filter(record("/simple/numpy/"))
    assert IndexMissFilter().filter(record("/api/homeworks/nope/"))
    server = logging.LogRecord("django.server", logging.WARNING, __file__, 1, '"%s" %s %s',
                               ("GET /simple/tqdm/ HTTP/1.1", "404", "731"), None)
    server.status_code = 404
    assert not IndexMissFilter().filter(server)


def test_a_server_that_could_not_build_the_toolkit_says_so_at_start(tmp_path, monkeypatch):
    """Where pypa/build is missing and a stray build/ folder (setuptools leaves one) stands on the
    path, `import build` finds an empty namespace package: the check imports what it uses."""
    import sys

    from basin.toolkit.apps import toolkit_can_be_built

    assert toolkit_can_be_built() == []
    (tmp_path / "build").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "build", raising=False)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "site-packages" not in p])  # as if not installed
    (error,) = toolkit_can_be_built()
    assert error.id == "basin.toolkit.E001" and error.msg.startswith("build not installed")


def test_every_module_of_the_command_is_shipped():
    import subprocess

    tracked = subprocess.run(["git", "ls-files", "starter_kit/basin_cli/*.py"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.split()
    assert tracked and {Path(p).name for p in tracked} == set(toolkit.SHIPPED["basin_cli"])


@pytest.mark.parametrize("host, trusted", [("127.0.0.1:8000", None), ("[::1]", None), ("localhost:8000", None),
                                           ("[::1]:8000", None), ("192.0.2.7:8000", "192.0.2.7"),
                                           ("[2001:db8::7]:8000", "[2001:db8::7]"), ("basin.lan", "basin.lan")])
def test_pip_is_told_to_trust_a_plain_http_index_only_off_this_machine(rf, settings, host, trusted):
    from basin.toolkit.install import index_options

    settings.ALLOWED_HOSTS = ["*"]
    options = index_options(rf.get("/", HTTP_HOST=host))
    assert options.startswith(f"--extra-index-url http://{host}/simple/")
    assert options.endswith(f" --trusted-host {trusted}") if trusted else "--trusted-host" not in options
