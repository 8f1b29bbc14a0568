"""`basin login --token`, `basin logout` and refused tokens, through the `basin` command against a
live Basin over real HTTP (pytest-django's live server): a token from the homework page is checked
and saved without a password, then submits; logging out revokes it on the server and forgets it
here, and still forgets it when the server cannot be reached; an expired token and one revoked by
a new password exit 4 with what to do."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from basin.accounts.models import ApiToken
from basin.accounts.services import create_token
from tests import factories
from tests.cli import run_basin

GET_A_NEW_TOKEN = "run `basin login`, or create a new token on the homework page"
REFUSED = ("basin: Your token was refused (mistyped, logged out, or replaced by a newer one from the homework page): "
           "run `basin login` for a new one, or create one on the homework page and run `basin login --token TOKEN`.\n")


@pytest.fixture
def basin(live_server, homework, tmp_path):
    def run(*args, typed: str | None = None, **env):
        """`basin ARGS` with only the environment given; stdin closed unless something is typed."""
        env = {"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "config"), **env}
        return run_basin(args, env=env, cwd=tmp_path, input=typed)

    return run


@pytest.fixture
def config_file(tmp_path):
    return tmp_path / "config" / "basin" / "config.json"


def web_page_token(user) -> str:
    return create_token(user=user, label=ApiToken.Label.WEB_PAGE).secret


def test_a_student_logs_in_with_a_token_submits_and_logs_out(basin, live_server, homework, people, tmp_path,
                                                             config_file):
    token = web_page_token(people["student"])
    login = basin("--url", live_server.url, "login", "--token", token, "--homework", homework.slug)
    assert login.returncode == 0, login.stderr  # stdin is closed: a password prompt would have failed
    assert login.stdout == (f"Logged in to {live_server.url} as student with your token (it does not expire); "
                            f"saved in {config_file}\n")
    assert json.loads(config_file.read_text()) == {"url": live_server.url, "token": token, "homework": homework.slug}

    factories.write(tmp_path / "model.zip", factories.bundle())
    submitted = basin("submit", "model.zip")  # address, token and homework from the config file
    assert submitted.returncode == 0, submitted.stderr
    submission_id = int(submitted.stdout.split()[0].lstrip("#"))
    status = basin("status")
    assert status.returncode == 0 and status.stdout.startswith(f"#{submission_id} ")

    out = basin("logout")
    assert out.returncode == 0, out.stderr
    assert out.stdout == (f"Logged out of {live_server.url}: the token was revoked on the server and is removed "
                          f"from {config_file}.\n")
    assert json.loads(config_file.read_text()) == {"url": live_server.url, "homework": homework.slug}
    assert not ApiToken.objects.filter(user=people["student"]).exists()
    refused = basin("--token", token, "status")
    assert refused.returncode == 4 and refused.stderr == REFUSED
    again = basin("logout")
    assert again.returncode == 0 and again.stdout == "Not logged in: no token saved or given.\n"


def test_basin_login_reads_basin_token_and_says_when_it_expires(basin, live_server, course, people, config_file):
    course.token_lifetime_days = 14
    course.save()
    token = web_page_token(people["student"])
    expiry = ApiToken.objects.get(user=people["student"]).expiry
    done = basin("--json", "login", BASIN_URL=live_server.url, BASIN_TOKEN=token)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"url": live_server.url, "username": "student", "config": str(config_file)}
    text = basin("login", BASIN_URL=live_server.url, BASIN_TOKEN=token)
    assert f"as student with your token (expires {expiry.isoformat().replace('+00:00', 'Z')})" in text.stdout


def test_an_expired_token_exits_4_with_what_to_do_and_is_not_saved(basin, live_server, course, people, config_file):
    course.token_lifetime_days = 1
    course.save()
    token = web_page_token(people["student"])
    ApiToken.objects.filter(user=people["student"]).update(expiry=timezone.now() - timedelta(minutes=5))
    done = basin("--url", live_server.url, "login", "--token", token)
    assert done.returncode == 4
    assert done.stderr.startswith("basin: This token expired on ") and len(done.stderr.splitlines()) == 1
    assert done.stderr.endswith(f"(your course sets how long a token lasts): {GET_A_NEW_TOKEN}.\n")
    assert not config_file.exists()


def test_a_token_revoked_by_a_new_password_exits_4_with_what_to_do(basin, live_server, homework, people):
    token = web_page_token(people["student"])
    people["student"].set_password("a-new-long-passphrase-7")
    people["student"].save()
    done = basin("submissions", BASIN_URL=live_server.url, BASIN_TOKEN=token, BASIN_HOMEWORK=homework.slug)
    assert done.returncode == 4
    assert done.stderr == ("basin: This token was revoked: the account's password changed after it was made. "
                           "Run `basin login`, or create a new token on the homework page.\n")


def test_logout_without_the_server_forgets_the_token_and_says_it_may_still_be_live(basin, live_server, people,
                                                                                   config_file):
    token = web_page_token(people["student"])
    assert basin("--url", live_server.url, "login", "--token", token).returncode == 0
    saved = json.loads(config_file.read_text())
    config_file.write_text(json.dumps(saved | {"url": "http://127.0.0.1:9"}))  # the server is down: nothing listens
    done = basin("logout")
    assert done.returncode == 3
    assert done.stderr == ("basin: Cannot reach http://127.0.0.1:9: is the address right and the server up? The token "
                           f"is removed from {config_file}, but it may still be live on the server until it expires; "
                           "changing your password revokes all your tokens.\n")
    assert "token" not in json.loads(config_file.read_text())
    assert ApiToken.objects.filter(user=people["student"]).exists()  # still live: nobody told the server


def test_with_a_username_login_asks_for_the_password_even_with_basin_token_set(basin, live_server, people):
    done = basin("--url", live_server.url, "login", "--username", "student", typed="student-password-1\n",
                 BASIN_TOKEN="not-a-token")
    assert done.returncode == 0, done.stderr
    assert f"Logged in to {live_server.url} as student with a new token; saved in" in done.stdout
    assert ApiToken.objects.get(user=people["student"]).label == "basin login"


def test_a_saved_token_is_sent_only_to_the_server_it_was_saved_for(basin, live_server, homework, people):
    """Another address (--url, BASIN_URL, a notebook downloaded from elsewhere) gets no saved token:
    that server could be anyone's, and logging out there must not forget or revoke this one."""
    import http.server
    import threading

    seen: list[str | None] = []

    class Elsewhere(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.headers.get("Authorization"))
            self.send_response(401)
            self.end_headers()

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        token = web_page_token(people["student"])
        assert basin("--url", live_server.url, "login", "--token", token).returncode == 0
        elsewhere = f"http://127.0.0.1:{other.server_address[1]}"
        assert basin("--url", elsewhere, "submissions", "--homework", homework.slug).returncode == 4
        assert basin("logout", BASIN_URL=elsewhere).stdout == "Not logged in: no token saved or given.\n"
        assert seen == [None]  # one request, with no token
        assert basin("submissions", "--homework", homework.slug).returncode == 0  # still saved, still live
    finally:
        other.shutdown()
