"""The client alone, as a student installs it: `pip install --extra-index-url <server>/simple/
basin-toolkit` into a bare virtual environment with no torch, then the commands a student runs
without PyTorch: --help, login --token, bundle, submit, logout."""
from __future__ import annotations

import pytest

from tests.e2e.student_machine import BareVenv
from tests.factories import baseline_state, bundle
from tests.tokens import token_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_toolkit_installs_from_the_servers_index_and_works_without_torch(live_server, homework, people,
                                                                          tmp_path, settings):
    from basin.toolkit.wheel import current_version

    settings.BASIN_TOOLKIT_DIR = tmp_path / "toolkit"
    machine = BareVenv.create(tmp_path / "student")
    machine.pip("install", "-q", "--extra-index-url", f"{live_server.url}/simple/", "basin-toolkit")
    installed = machine.run(machine.bin / "pip", "freeze").stdout.lower()
    assert f"basin-toolkit=={current_version()}" in installed and "torch" not in installed
    assert "django" not in installed and "numpy" not in installed  # the plain install: the command alone

    helped = machine.run(machine.bin / "basin", "--help")
    assert helped.returncode == 0 and all(c in helped.stdout for c in ("login", "logout", "bundle", "submit"))

    token = token_for(people["student"])
    login = machine.run(machine.bin / "basin", "--url", live_server.url, "login", "--token", token,
                        "--homework", homework.slug)
    assert login.returncode == 0, login.stderr
    assert "Traceback" not in login.stderr and "password" not in login.stdout + login.stderr

    work = machine.root / "home"
    (work / "model.py").write_bytes(bundle_member("model.py"))
    (work / "weights.safetensors").write_bytes(bundle_member("weights.safetensors"))
    made = machine.run(machine.bin / "basin", "bundle", "model.py", "weights.safetensors", "-o", "model.zip")
    assert made.returncode == 0 and made.stdout.startswith("Wrote model.zip ("), made.stderr

    submitted = machine.run(machine.bin / "basin", "submit", "model.zip", "-m", "from a bare venv")
    assert submitted.returncode == 0, submitted.stderr
    assert submitted.stdout.startswith("#") and " queued" in submitted.stdout
    assert "Basin-Toolkit" not in submitted.stderr and "upgrade" not in submitted.stderr  # the server's own build

    check = machine.run(machine.bin / "basin", "check", "model.zip")
    assert check.returncode == 2 and check.stderr == (
        "basin: `basin check` runs the grader's own loading code, which needs PyTorch and the toolkit's check extra; "
        "numpy is not installed here: install the toolkit with its check extra: the install line on the homework "
        "page (basin-toolkit[check]). `basin submit` works without them.\n")

    empty = machine.run(machine.bin / "basin", "login", "--token", "")
    assert (empty.returncode, empty.stderr) == (2, "basin: --token is empty: paste the token from the homework page "
                                                   "(Get started → Create a token).\n")
    out = machine.run(machine.bin / "basin", "logout")
    assert out.returncode == 0, out.stderr
    refused = machine.run(machine.bin / "basin", "--url", live_server.url, "--token", token, "submissions",
                          "--homework", homework.slug)
    assert refused.returncode == 4 and "Traceback" not in refused.stderr  # revoked on the server


def bundle_member(name: str) -> bytes:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(bundle(state=baseline_state()))) as zf:
        return zf.read(name)


def test_a_basin_from_an_older_build_is_told_in_one_line_how_to_upgrade(live_server, homework, people, tmp_path,
                                                                  settings):
    import subprocess
    import sys
    import zipfile

    from basin.toolkit.wheel import current_version, ensure_built

    settings.BASIN_TOOLKIT_DIR = tmp_path / "toolkit"
    site = tmp_path / "old"
    with zipfile.ZipFile(ensure_built().path) as wheel:
        wheel.extractall(site)
    (site / "basin_cli" / "_build.py").write_text('VERSION = "0.1.0+g0000000000"\n')  # what an older server built
    run = ("import sys; sys.path.insert(0, sys.argv[1]); from basin_cli.__main__ import main; "
           "import basin_cli; assert basin_cli.__version__ == '0.1.0+g0000000000'; sys.exit(main(sys.argv[2:]))")
    env = {"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "config"), "BASIN_URL": live_server.url,
           "BASIN_TOKEN": token_for(people["student"]), "BASIN_HOMEWORK": homework.slug}
    done = subprocess.run([sys.executable, "-c", run, str(site), "status"], check=False, capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode in (0, 6), done.stderr  # 6: no submission yet; the notice comes either way
    upgrade = (f'basin: this server\'s toolkit is {current_version()}, yours is 0.1.0+g0000000000; upgrade with: '
               f'pip install --extra-index-url {live_server.url}/simple/ "basin-toolkit=={current_version()}"')
    assert done.stderr.splitlines().count(upgrade) == 1, done.stderr
