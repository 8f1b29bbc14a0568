"""The `basin` command in the test's own process: its main() with the arguments, environment,
working folder and standard input a shell would give it, and its exit status and output captured
as subprocess.run's would be. No interpreter start and no torch import per call (`basin check`
loads torch once per session), so the CLI's many cases cost milliseconds each.

It sets the process's environment for the call, so a server thread of the same process (pytest-
django's live server) sees the command's environment while it answers: nothing Basin serves reads
the environment per request.

What only a real process shows is tested with one: the installed `basin` entry point
(tests/test_cli_from_the_toolkit_index.py) and an interrupted download (tests/test_cli_live.py).
"""
from __future__ import annotations

import contextlib
import getpass
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from unittest import mock


@contextlib.contextmanager
def _environment(env: dict[str, str], cwd) -> Iterator[None]:
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(env)
    try:
        if cwd is not None:
            os.chdir(cwd)
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def _piped_getpass(prompt: str = "Password: ", stream=None) -> str:
    """getpass without a terminal, as it behaves in a pipe: the prompt to stderr, a line from stdin
    (EOFError at the end of the input), then a new line (the real one would open /dev/tty when the
    tests have one)."""
    print(prompt, end="", file=sys.stderr)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    print(file=sys.stderr)
    return line.rstrip("\n")


def run_basin(args, *, env: dict[str, str], cwd=None, input: str | None = None) -> subprocess.CompletedProcess:
    """`basin ARGS` with exactly `env` as its environment, in `cwd`, reading `input`."""
    from basin_cli.__main__ import main

    # Encoded as a pipe's would be (UTF-8; strict on stdout, backslashreplace on stderr), so text
    # that a real stream could not write fails here too.
    out_bytes, err_bytes = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_bytes, encoding="utf-8", errors="strict", write_through=True)
    err = io.TextIOWrapper(err_bytes, encoding="utf-8", errors="backslashreplace", write_through=True)
    with (_environment(env, cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err),
          mock.patch.object(sys, "stdin", io.StringIO(input or "")),
          mock.patch.object(getpass, "getpass", _piped_getpass)):
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as e:  # argparse's usage errors, --help and --version
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return subprocess.CompletedProcess(["basin", *map(str, args)], code, out_bytes.getvalue().decode("utf-8"),
                                       err_bytes.getvalue().decode("utf-8"))
