"""The `basin` CLI against a server that answers with hostile strings (a compromised or malicious
server, or another student's name or log relayed by an honest one): escape sequences, bidi
controls and other control characters never reach the terminal; text mode and --json alike. And
`basin check` answers a malformed zip with the grader's verdict, not a traceback."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.cli import run_basin
from tests.grader.zipcraft import Entry, build

# Recolour, retitle (OSC 0), plant a hyperlink (OSC 8), clear the screen, move the cursor, rewrite
# the line (\r), ring the bell, C1 CSI, bidi overrides that reorder what is read, DEL, NUL.
HOSTILE = ("\x1b[31mRED\x1b[0m \x1b]0;owned-title\x07 \x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\ "
           "\x1b[2J\x1b[H \rrewritten\x07 \x9b31m \u202eevil\u202c \u2066iso\u2069 \x7f\x00 \x1bPdcs\x1b\\ \x1bc")
FORBIDDEN = set("\x1b\x07\r\x9b\x7f\x00\u202e\u202c\u2066\u2069\x9c\x9d")

SUBMISSION = {"id": 7, "status": "failed", "verdict": "runtime_error" + HOSTILE, "message": "boom" + HOSTILE,
              "log_tail": "line 1\n\tline 2" + HOSTILE, "public_score": None, "created_at": "2026-12-01T00:00:00Z"}
ANSWERS = {
    "/api/submissions/7/": SUBMISSION,
    "/api/homeworks/hw1/submissions/": [SUBMISSION, {**SUBMISSION, "id": 8, "status": "scored" + HOSTILE}],
    "/api/homeworks/hw1/leaderboard/": {"rows": [
        {"rank": 1, "public_score": 0.9, "name": "alice" + HOSTILE},
        {"rank": "2" + HOSTILE, "public_score": "0.8" + HOSTILE, "name": "\u202eecila"}]},
    "/api/homeworks/hw1/selection/": {"final_selections": 2, "selected": [SUBMISSION]},
}


class Hostile(BaseHTTPRequestHandler):
    def do_GET(self):
        body = ANSWERS.get(self.path)
        if body is None:
            self._send(403, {"error": {"code": "nope", "message": "refused" + HOSTILE, "details": {}}})
        else:
            self._send(200, body)

    def _send(self, status: int, body) -> None:
        raw = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join()


def basin(url: str, *args, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path), "BASIN_TOKEN": "t", "BASIN_HOMEWORK": "hw1"}
    return run_basin(["--url", url, *args], env=env)


COMMANDS = [("logs", "7"), ("status", "7"), ("submissions",), ("leaderboard",), ("select",), ("status", "9")]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_nothing_the_server_sends_can_drive_the_terminal(server, command, as_json, tmp_path):
    done = basin(server, *(("--json",) if as_json else ()), *command, tmp_path=tmp_path)
    out = done.stdout + done.stderr  # written as UTF-8 bytes, as to a pipe (tests/cli.py)
    assert "Traceback" not in out, out
    assert not FORBIDDEN & set(out), sorted(FORBIDDEN & set(out))
    assert "RED" in out or "refused" in out  # the readable text is still shown
    if command == ("logs", "7") and not as_json:
        assert "line 1\n\tline 2" in out  # newline and tab survive


def test_basin_check_answers_a_malformed_zip_with_the_graders_verdict(tmp_path):
    path = tmp_path / "bundle.zip"
    path.write_bytes(build([Entry(b"model.py", b"def build_model():\n    pass\n", flags=1),
                            Entry(b"weights.pt", b"x" * 40, flags=1)]))
    done = run_basin(["check", path], env={"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path)})
    assert done.returncode == 5 and "Traceback" not in done.stderr, done.stderr
    assert "would be refused (invalid_submission)" in done.stderr and "password" in done.stderr
