"""Guessing limits for credentials other than passwords (django-axes guards those): join codes,
and how often Basin e-mails one account. Counted in Django's cache, which production shares
between all web processes (BASIN_CACHE_URL); DRF's rate throttles do the bookkeeping."""
from __future__ import annotations

import ipaddress
import math

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


def client_address(request) -> str:
    """The address a request came from. Behind settings.BASIN_PROXY_COUNT reverse proxies it is the
    entry the nearest of them appended to X-Forwarded-For: entries before it are the client's word."""
    remote = request.META.get("REMOTE_ADDR", "") or "0.0.0.0"
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    proxies = settings.BASIN_PROXY_COUNT
    if not proxies or not forwarded:
        return remote
    entries = [e.strip() for e in forwarded.split(",")]
    candidate = entries[-min(proxies, len(entries))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # a proxy that does not write the header: fall back to the connection
        return remote


class _Throttle(SimpleRateThrottle):
    per_hour_setting = ""

    def get_rate(self) -> str:  # read when used, so a setting's change applies at once
        return f"{getattr(settings, self.per_hour_setting)}/hour"

    def get_ident(self, request) -> str:
        return client_address(request)

    def cache_key_for(self, ident) -> str:
        return self.cache_format % {"scope": self.scope, "ident": ident}


class _FailureThrottle(_Throttle):
    """Counts failures only: blocked() asks before a try, failed() counts a wrong one. A class
    signing up together behind one address is never held back by its right codes."""

    def blocked(self, request) -> bool:
        self.key = self.get_cache_key(request, None)
        if self.key is None:
            return False
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]
        return len(self.history) >= self.num_requests

    def failed(self, request) -> None:
        self.allow_request(request, None)  # DRF's bookkeeping: the failure joins the history


class JoinCodeFailuresPerAccount(_FailureThrottle):
    scope = "join_code_account"
    per_hour_setting = "BASIN_JOIN_CODE_FAILURES_PER_ACCOUNT"

    def get_cache_key(self, request, view):
        return self.cache_key_for(request.user.pk) if request.user.is_authenticated else None


class JoinCodeFailuresPerAddress(_FailureThrottle):
    scope = "join_code_address"
    per_hour_setting = "BASIN_JOIN_CODE_FAILURES_PER_ADDRESS"

    def get_cache_key(self, request, view):
        return self.cache_key_for(self.get_ident(request))


WRONG_CODE = "unknown_join_code"  # the error code of courses.selectors.course_with_join_code


class JoinCodeGuard:
    """Both join-code limits for one request: is_blocked() before checking a code (it sets
    retry_after, in seconds), failed() after a wrong one."""

    def __init__(self, request):
        self.request = request
        self.throttles = [JoinCodeFailuresPerAccount(), JoinCodeFailuresPerAddress()]
        self.retry_after = 0

    def is_blocked(self) -> bool:
        waits = [t.wait() or t.duration for t in self.throttles if t.blocked(self.request)]
        self.retry_after = math.ceil(max(waits)) if waits else 0
        return bool(waits)

    def failed(self) -> None:
        for throttle in self.throttles:
            throttle.failed(self.request)


class ConfirmationEmailsPerAccount(_Throttle):
    """Confirmation e-mails one account may have sent: a stranger who signed up with someone's
    address cannot flood that inbox."""

    scope = "confirmation_email"
    per_hour_setting = "BASIN_CONFIRMATION_EMAILS_PER_HOUR"

    def get_cache_key(self, request, view):
        return self.cache_key_for(request.user.pk) if request.user.is_authenticated else None
