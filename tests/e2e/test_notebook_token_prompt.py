"""The notebook's token cell, run in a real Jupyter kernel with no token configured: it asks with
getpass (a password prompt, echo off), and the basin command the notebook then runs gets the answer."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from jupyter_client.manager import start_new_kernel

NOTEBOOK = Path(__file__).resolve().parents[2] / "starter_kit" / "starter.ipynb"


def token_cell() -> str:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    (cell,) = [c for c in cells if "getpass.getpass(" in "".join(c["source"])]
    return "".join(cell["source"])


def test_with_no_token_configured_the_notebook_asks_for_it_with_getpass(tmp_path):
    env = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL")} | {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path), "MPLBACKEND": "Agg",
        "XDG_CONFIG_HOME": str(tmp_path / "config")}  # no BASIN_TOKEN, no saved login
    km, kc = start_new_kernel(kernel_name="python3", env=env, startup_timeout=120)
    try:
        kc.execute_interactive('BASIN_URL = "http://127.0.0.1:9"\nHOMEWORK = "hw1"\nSMALL = True', timeout=60)
        msg_id = kc.execute(token_cell(), allow_stdin=True)
        request = kc.get_stdin_msg(timeout=120)
        assert request["msg_type"] == "input_request" and request["content"]["password"] is True
        assert request["content"]["prompt"] == "Your Basin token (homework page → Get started → Create a token): "
        kc.input("  typed-token-123  ")
        reply = kc.get_shell_msg(timeout=120)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
        seen = []
        kc.execute_interactive("import os; print(TOKEN, os.environ['BASIN_TOKEN'], os.environ['BASIN_HOMEWORK'])",
                               timeout=60, output_hook=lambda m: seen.append(m["content"].get("text", "")))
        assert "".join(seen).split() == ["typed-token-123", "typed-token-123", "hw1"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
