"""The one module that speaks HTTP to a Basin server. Errors become CliError with an exit code."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import requests

from . import __version__
from .terminal import clean

UPGRADE_HEADER = "Basin-Toolkit-Upgrade"  # the server's notice to an outdated client (basin.toolkit.install)
# Exit codes, one per kind of failure, so scripts can tell them apart.
EXIT_USAGE, EXIT_NETWORK, EXIT_AUTH, EXIT_REFUSED, EXIT_NOT_FOUND, EXIT_NOT_SCORED, EXIT_SERVER = 2, 3, 4, 5, 6, 7, 8
EXIT_EMPTY_FILE, EXIT_DUPLICATE, EXIT_NOT_REVEALED = 9, 10, 11
# Refusals a student acts on differently from other refusals, told apart by the server's error code.
EXIT_FOR_ERROR = {"empty_file": EXIT_EMPTY_FILE, "duplicate_submission": EXIT_DUPLICATE,
                  "not_revealed": EXIT_NOT_REVEALED}

# A refused token: the server's own sentence where it says why (expired, revoked by a new password).
SAYS_WHAT_TO_DO = ("token_expired", "token_revoked")
NOT_LOGGED_IN = ("Not logged in: run `basin login --token TOKEN` with a token from the homework page (Get started), "
                 "or `basin login` with your username and password.")
REFUSED_TOKEN = ("Your token was refused (mistyped, logged out, or replaced by a newer one from the homework page): "
                 "run `basin login` for a new one, or create one on the homework page and run `basin login --token "
                 "TOKEN`.")


class CliError(Exception):
    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.message, self.exit_code = message, exit_code


class Client:
    def __init__(self, url: str | None, token: str | None = None, timeout: float = 30):
        if not url:
            raise CliError("No server: run `basin --url URL login` or set BASIN_URL.", EXIT_USAGE)
        self.url, self.timeout = url, timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"basin-toolkit/{__version__}"  # the server says when to upgrade
        self.upgrade_told = False
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    def _request(self, method: str, path: str, **kwargs) -> Any:  # the JSON body: an object, or a list
        try:
            response = self.session.request(method, f"{self.url}{path}", timeout=kwargs.pop("timeout", self.timeout),
                                            **kwargs)
        except requests.ConnectionError:
            raise CliError(f"Cannot reach {self.url}: is the address right and the server up?", EXIT_NETWORK) from None
        except requests.Timeout:
            raise CliError(f"{self.url} did not answer in time; try again.", EXIT_NETWORK) from None
        except (requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema, requests.exceptions.InvalidURL):
            raise CliError(f"{self.url!r} is not a server address; write it as http(s)://host[:port].",
                           EXIT_USAGE) from None
        except requests.RequestException as e:
            raise CliError(f"Talking to {self.url} failed: {e}", EXIT_NETWORK) from None
        self._tell_upgrade(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.ok and body is not None:
            return body
        self._raise_for(response, body)

    def _tell_upgrade(self, response) -> None:
        """A server whose toolkit differs from this one says, in one line, how to install its own."""
        line = response.headers.get(UPGRADE_HEADER)
        if line and not self.upgrade_told:
            self.upgrade_told = True
            print(f"basin: {clean(line)}", file=sys.stderr)

    def _raise_for(self, response, body=None) -> NoReturn:
        if body is None:
            try:
                body = response.json()
            except ValueError:
                body = None
        error = body.get("error", {}) if isinstance(body, dict) else {}
        message = error.get("message") or f"The server answered {response.status_code} {response.reason}."
        sent_token = "Authorization" in self.session.headers
        if response.status_code == 401 and sent_token and error.get("code") not in SAYS_WHAT_TO_DO:
            message = REFUSED_TOKEN  # an unknown token: mistyped, logged out or replaced
        elif error.get("code") == "not_authenticated" and not sent_token:  # the API's words are for HTTP clients
            message = NOT_LOGGED_IN
        code = {401: EXIT_AUTH, 403: EXIT_REFUSED, 404: EXIT_NOT_FOUND, 413: EXIT_REFUSED, 429: EXIT_REFUSED,
                400: EXIT_REFUSED, 409: EXIT_REFUSED}.get(response.status_code, EXIT_SERVER)
        if response.status_code < 500 and isinstance(name := error.get("code"), str):
            code = EXIT_FOR_ERROR.get(name, code)
        raise CliError(message, code)

    def token(self, username: str, password: str) -> str:
        return self._request("POST", "/api/auth/token/", data={"username": username, "password": password})["token"]

    def me(self) -> dict:
        """Who the token belongs to and when it expires: a cheap check that the server takes it."""
        return self._request("GET", "/api/auth/me/")

    def logout(self) -> dict:
        """Revoke the token this client sends."""
        return self._request("POST", "/api/auth/logout/")

    def join(self, code: str) -> dict:
        return self._request("POST", "/api/courses/join/", json={"code": code})

    def submit(self, homework: str, path: Path, note: str = "", progress: bool = False, force: bool = False) -> dict:
        """Upload streamed from disk (a large checkpoint is never held in memory), with a progress bar."""
        from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor
        from tqdm import tqdm

        with open(path, "rb") as f:
            encoder = MultipartEncoder(fields={"file": (path.name, f, "application/octet-stream"), "note": note,
                                               "force": "true" if force else "false"})
            with tqdm(total=encoder.len, unit="B", unit_scale=True, desc=f"uploading {path.name}",
                      disable=not progress, leave=False) as bar:
                body = MultipartEncoderMonitor(encoder, lambda monitor: bar.update(monitor.bytes_read - bar.n))
                return self._request("POST", f"/api/homeworks/{homework}/submissions/", timeout=600, data=body,
                                     headers={"Content-Type": body.content_type})

    def submission(self, submission_id: int) -> dict:
        return self._request("GET", f"/api/submissions/{submission_id}/")

    def submissions(self, homework: str) -> list:
        return self._request("GET", f"/api/homeworks/{homework}/submissions/")

    def leaderboard(self, homework: str, part: str = "public") -> dict:
        return self._request("GET", f"/api/homeworks/{homework}/leaderboard/", params={"part": part})

    def dataset(self, homework: str) -> dict:
        return self._request("GET", f"/api/homeworks/{homework}/dataset/")

    def fetch(self, url: str, target: Path, offset: int, progress) -> None:
        """Append the bytes of `url` from `offset` on to `target` (a Range request when resuming)."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            with self.session.get(url, headers=headers, stream=True, timeout=self.timeout) as response:
                if response.status_code not in (200, 206):
                    self._raise_for(response)
                mode = "ab" if offset and response.status_code == 206 else "wb"  # a server without ranges: restart
                with open(target, mode) as f:
                    for chunk in response.iter_content(64 * 1024):  # small: a break loses little
                        f.write(chunk)
                        progress(len(chunk))
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
            raise CliError(f"The connection to {self.url} broke; run the command again to resume.",
                           EXIT_NETWORK) from None
        except requests.Timeout:
            raise CliError(f"{self.url} stopped answering; run the command again to resume.", EXIT_NETWORK) from None
        except requests.RequestException as e:
            raise CliError(f"The download from {self.url} failed ({e}); run the command again to resume.",
                           EXIT_NETWORK) from None

    def selection(self, homework: str, ids: list[int] | None = None) -> dict:
        if ids is None:
            return self._request("GET", f"/api/homeworks/{homework}/selection/")
        return self._request("POST", f"/api/homeworks/{homework}/selection/", json={"ids": ids})
