"""How a student installs the toolkit from this server: the one install line (homework page,
notebook, upgrade notice), and the notice itself: a `basin` whose toolkit differs from the server's
gets, on each API answer, a header with that line, which it prints once."""
from __future__ import annotations

import ipaddress
import re

from django.http.request import split_domain_port
from django.utils.cache import patch_vary_headers

from basin_cli.http import UPGRADE_HEADER  # the client's own name for it

from .wheel import DISTRIBUTION, current_version

# Only a version as a toolkit build writes it is echoed back (never control characters, never long).
_CLIENT = re.compile(r"basin-toolkit/([0-9A-Za-z.+]{1,64})(?:\s|$)")


def index_options(request) -> str:
    """pip's options for this server's index. pip ignores a plain-http index unless it is on the
    machine itself or trusted by name: a demo reached over a LAN (demo --addr 0.0.0.0:8000) is."""
    url = request.build_absolute_uri("/simple/")
    host = split_domain_port(request.get_host())[0]
    trusted = request.scheme == "http" and not _loopback(host)
    return f"--extra-index-url {url}" + (f" --trusted-host {host}" if trusted else "")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def install_line(request, extra: str = "") -> str:
    """Pinned to this server's build: its local version label (+g…) exists on no public index, so
    pip can take it from nowhere but here, whatever the other indexes hold."""
    name = f"{DISTRIBUTION}[{extra}]" if extra else DISTRIBUTION
    return f'pip install {index_options(request)} "{name}=={current_version()}"'


class UpgradeNoticeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        client = _CLIENT.match(request.headers.get("User-Agent", ""))
        # Only a toolkit built by a server carries a local label: one run from Basin's sources is left be.
        if client and "+" in client[1] and client[1] != current_version():
            response[UPGRADE_HEADER] = (f"this server's toolkit is {current_version()}, yours is {client[1]}; "
                                        f"upgrade with: {install_line(request)}")
        if request.headers.get("User-Agent", "").startswith("basin-toolkit/"):
            patch_vary_headers(response, ["User-Agent"])  # a shared cache must not hand one client's notice on
        return response
