"""The `basin` CLI's one error boundary: one clear line and a distinct exit code, no traceback.
(Its commands against a live server are exercised in tests/e2e.)"""
import socket
import subprocess
import sys


def basin(*args, env_extra=None, tmp_path=None):
    env = {"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "basin_cli", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again once we return


def test_an_unreachable_server_is_one_line_and_exit_3(tmp_path):
    done = basin("--url", f"http://127.0.0.1:{closed_port()}", "status", "1", tmp_path=tmp_path)
    assert done.returncode == 3
    assert done.stderr.startswith("basin: Cannot reach") and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_no_server_configured_says_how_to_set_one(tmp_path):
    done = basin("status", "1", tmp_path=tmp_path)
    assert done.returncode == 2 and "basin --url URL login" in done.stderr
    hint = basin("--url", "http://127.0.0.1:1", "login", "--help", tmp_path=tmp_path)
    assert hint.returncode == 0  # the hint's word order is one argparse accepts


def test_submit_without_a_homework_says_which_flag_to_pass(tmp_path):
    done = basin("--url", "http://127.0.0.1:1", "submit", "x.zip", tmp_path=tmp_path)
    assert done.returncode == 2 and "--homework" in done.stderr


def test_an_address_without_a_scheme_is_explained(tmp_path):
    done = basin("--url", "localhost:8000", "status", "1", tmp_path=tmp_path)
    assert done.returncode == 2 and "http(s)://host[:port]" in done.stderr and "Traceback" not in done.stderr


def test_every_subcommand_has_help(tmp_path):
    for command in ("login", "download", "check", "submit", "status", "logs", "select", "submissions", "leaderboard"):
        done = basin(command, "--help", tmp_path=tmp_path)
        assert done.returncode == 0 and "usage: basin" in done.stdout, command
