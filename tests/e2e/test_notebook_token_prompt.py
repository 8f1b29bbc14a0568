"""The notebook's token cell, run in a real Jupyter kernel with no token configured: it asks with
getpass (a password prompt, echo off), checks the answer with the live server (`basin login
--token`), and the basin command the notebook runs later gets it. A wrong token stops it there."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_kernel

from tests.tokens import token_for

pytestmark = pytest.mark.django_db(transaction=True)

NOTEBOOK = Path(__file__).resolve().parents[2] / "starter_kit" / "starter.ipynb"


def token_cell() -> str:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    (cell,) = [c for c in cells if "getpass.getpass(" in "".join(c["source"])]
    return "".join(cell["source"])


def run_token_cell(base: str, typed: str, tmp_path) -> tuple[dict, str, str]:
    """The cell's execute reply, its prompt, and what the kernel then says of TOKEN and the environment."""
    env = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL")} | {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path), "MPLBACKEND": "Agg",
        "XDG_CONFIG_HOME": str(tmp_path / "config")}  # no BASIN_TOKEN, no saved login
    km, kc = start_new_kernel(kernel_name="python3", env=env, startup_timeout=120)
    try:
        kc.execute_interactive(f'BASIN_URL = "{base}"\nHOMEWORK = "hw1"\nSMALL = True', timeout=60)
        msg_id = kc.execute(token_cell(), allow_stdin=True)
        request = kc.get_stdin_msg(timeout=120)
        assert request["msg_type"] == "input_request" and request["content"]["password"] is True
        kc.input(typed)
        reply = kc.get_shell_msg(timeout=120)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=120)
        seen = []
        kc.execute_interactive("import os; print(TOKEN, os.environ['BASIN_TOKEN'], os.environ['BASIN_HOMEWORK'])",
                               timeout=60, output_hook=lambda m: seen.append(m["content"].get("text", "")))
        return reply["content"], request["content"]["prompt"], "".join(seen)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_with_no_token_configured_the_notebook_asks_for_it_with_getpass(live_server, homework, people, tmp_path):
    token = token_for(people["student"])
    reply, prompt, seen = run_token_cell(live_server.url, f"  {token}  ", tmp_path)
    assert prompt == "Your Basin token (homework page → Get started → Create a token): "
    assert reply["status"] == "ok", reply
    assert seen.split() == [token, token, "hw1"]  # stripped, and handed to the basin command
    saved = json.loads((tmp_path / "config" / "basin" / "config.json").read_text())
    assert saved == {"url": live_server.url, "token": token, "homework": "hw1"}  # basin login --token kept it


NO_TOKEN = ("No working token. Create one on the homework page (Get started → Create a token) and run this cell "
            "again, or set BASIN_TOKEN before starting the notebook.")


def test_a_mistyped_token_stops_the_notebook_at_that_cell(live_server, homework, people, tmp_path):
    reply, _, _ = run_token_cell(live_server.url, "not-my-token", tmp_path)
    assert reply["status"] == "error" and reply["evalue"] == NO_TOKEN


def test_a_runner_that_cannot_ask_gets_basins_own_message(live_server, homework, tmp_path):
    """nbconvert or papermill with no BASIN_TOKEN: no prompt can be answered there."""
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path), "MPLBACKEND": "Agg",
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    km, kc = start_new_kernel(kernel_name="python3", env=env, startup_timeout=120)
    try:
        kc.execute_interactive(f'BASIN_URL = "{live_server.url}"\nHOMEWORK = "hw1"\nSMALL = True', timeout=60)
        reply = kc.execute_interactive(token_cell(), allow_stdin=False, timeout=120)
        assert reply["content"]["status"] == "error" and reply["content"]["evalue"] == NO_TOKEN
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
