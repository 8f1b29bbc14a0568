"""Guessing limits for credentials other than passwords (django-axes guards those): join codes and
sign-ups, how often Basin e-mails one account or one address, and how many API tokens one makes.
Counted in Django's cache, which production shares between all web processes (BASIN_CACHE_URL);
DRF's rate throttles do the bookkeeping."""
from __future__ import annotations

import hashlib
import ipaddress
import math

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


def client_address(request) -> str:
    """The address a request came from, as every limit counts it. Behind settings.BASIN_PROXY_COUNT
    reverse proxies it is the entry the nearest of them appended to X-Forwarded-For: entries before
    it are the client's word. An IPv6 address counts as its /64: one home or host has all of those."""
    remote = request.META.get("REMOTE_ADDR", "") or "0.0.0.0"
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    proxies = settings.BASIN_PROXY_COUNT
    candidate = remote
    if proxies and forwarded:
        entries = [e.strip() for e in forwarded.split(",")]
        candidate = entries[-min(proxies, len(entries))]
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:  # a proxy that does not write the header: fall back to the connection
        return remote
    if address.version == 6:
        if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is an IPv4 client
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)  # stored as an address
    return str(address)


class _Throttle(SimpleRateThrottle):
    count_setting = ""
    period = "hour"
    # Set from the rate by SimpleRateThrottle.__init__ (djangorestframework-stubs leave them out).
    num_requests: int
    duration: int

    # Basin's throttles are also asked outside a view, and some outside a request: DRF hands request and
    # view only to get_cache_key, and Basin's read what they need of them, so either may be None here.
    def allow_request(self, request, view) -> bool:
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str | None:
        raise NotImplementedError(".get_cache_key() must be overridden")

    def get_rate(self) -> str:  # read when used, so a setting's change applies at once
        return f"{getattr(settings, self.count_setting)}/{self.period}"

    def get_ident(self, request) -> str:
        return client_address(request)

    def cache_key_for(self, ident) -> str:
        return self.cache_format % {"scope": self.scope, "ident": ident}


class _CountedThrottle(_Throttle):
    """Counts only what the caller counts: blocked() asks before a try, record() counts one."""

    def blocked(self, request) -> bool:
        self.key = self.get_cache_key(request, None)
        if self.key is None:
            return False
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]
        return len(self.history) >= self.num_requests

    def record(self, request) -> None:
        self.allow_request(request, None)  # DRF's bookkeeping: the try joins the history

    def retry_after(self) -> int:
        return math.ceil(self.wait() or self.duration)


class JoinCodeFailuresPerAccount(_CountedThrottle):
    """Wrong join codes only: a class signing up together behind one address is never held back
    by its right codes."""

    scope = "join_code_account"
    count_setting = "BASIN_JOIN_CODE_FAILURES_PER_ACCOUNT"

    def get_cache_key(self, request, view):
        return self.cache_key_for(request.user.pk) if request.user.is_authenticated else None


class JoinCodeFailuresPerAddress(_CountedThrottle):
    scope = "join_code_address"
    count_setting = "BASIN_JOIN_CODE_FAILURES_PER_ADDRESS"

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
        waits = [t.retry_after() for t in self.throttles if t.blocked(self.request)]
        self.retry_after = max(waits, default=0)
        return bool(waits)

    def failed(self) -> None:
        for throttle in self.throttles:
            throttle.record(self.request)


class SignUpsPerAddress(_CountedThrottle):
    """Sign-up tries with a valid join code from one address, whatever their outcome: each one
    tells whether a username is taken, and a new account e-mails the address it gave."""

    scope = "signup_address"
    count_setting = "BASIN_SIGNUPS_PER_ADDRESS_PER_HOUR"

    def get_cache_key(self, request, view):
        return self.cache_key_for(self.get_ident(request))


class TokensPerAccount(_CountedThrottle):
    """API tokens one account makes in an hour (`basin login` and the homework page together): a
    script that logs in in a loop is stopped before it fills the token table."""

    scope = "api_tokens_account"
    count_setting = "BASIN_TOKENS_PER_ACCOUNT_PER_HOUR"

    def __init__(self, user):
        super().__init__()
        self.user_pk = user.pk

    def get_cache_key(self, request, view):
        return self.cache_key_for(self.user_pk)


class ConfirmationEmailsPerAccount(_Throttle):
    """Confirmation e-mails one account may have sent: a stranger who signed up with someone's
    address cannot flood that inbox."""

    scope = "confirmation_email"
    count_setting = "BASIN_CONFIRMATION_EMAILS_PER_HOUR"

    def get_cache_key(self, request, view):
        return self.cache_key_for(request.user.pk) if request.user.is_authenticated else None


class ConfirmationEmailsPerDestination(_Throttle):
    """Confirmation e-mails to one address a day, from all accounts together: new accounts that all
    give a stranger's address cannot flood that inbox either."""

    scope = "confirmation_email_to"
    count_setting = "BASIN_CONFIRMATION_EMAILS_PER_ADDRESS_PER_DAY"
    period = "day"

    def __init__(self, email_key: str):
        super().__init__()
        self.email_key = email_key

    def get_cache_key(self, request, view):  # hashed: an address is no cache key's business
        return self.cache_key_for(hashlib.sha256(self.email_key.encode()).hexdigest())
