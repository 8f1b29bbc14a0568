"""How a student installs the toolkit from this server: the one install line (homework page,
notebook, upgrade notice), and the notice itself: a `basin` whose toolkit differs from the server's
gets, on each API answer, a header with that line, which it prints once."""
from __future__ import annotations

import re

from .wheel import DISTRIBUTION, current_version

UPGRADE_HEADER = "Basin-Toolkit-Upgrade"  # basin_cli.http reads it
_CLIENT = re.compile(r"basin-toolkit/(\S+)")


def index_url(request) -> str:
    return request.build_absolute_uri("/simple/")


def install_line(request, extra: str = "") -> str:
    """Pinned to this server's build: its local version label (+g…) exists on no public index, so
    pip can take it from nowhere but here, whatever the other indexes hold."""
    name = f"{DISTRIBUTION}[{extra}]" if extra else DISTRIBUTION
    return f'pip install --extra-index-url {index_url(request)} "{name}=={current_version()}"'


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
        return response
