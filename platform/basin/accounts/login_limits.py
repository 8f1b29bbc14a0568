"""When failed logins lock (settings.AXES_HANDLER): django-axes's database handler, with two wider
limits added to its own.

A lock must stop a guesser without handing anyone a cheap way to lock other people out (OWASP,
Authentication Cheat Sheet: account lockout). So:
- A (username, address) pair locks at BASIN_LOGIN_FAILURE_LIMIT: axes itself, with
  AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]. Whoever keeps typing a wrong password is
  held back; the same person elsewhere, and everyone else behind the same campus NAT, are not.
- An address alone locks at BASIN_LOGIN_FAILURES_PER_ADDRESS, far higher: one address spraying
  many usernames (which no pair lock catches) is stopped; a class's typos behind one NAT are not.
- An account is never locked everywhere: a stranger could keep it locked at will. Past
  BASIN_LOGIN_FAILURES_PER_ACCOUNT failures from all addresses together, each address gets only
  UNDER_ATTACK_PAIR_LIMIT tries at it: guessing from many addresses slows to a trickle, and the
  owner, from an address without failures of its own, still logs in with the right password.
All three count axes's AccessAttempt rows of the cool-off window, so axes_reset_ip and
axes_reset_username lift them as before."""
from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.db.models import Sum

UNDER_ATTACK_PAIR_LIMIT = 3  # a typo or two, then the right password


def _failures(attempts) -> int:
    return attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0


class LoginLimitsHandler(AxesDatabaseHandler):
    def is_locked(self, request, credentials=None) -> bool:
        return super().is_locked(request, credentials) or self.over_wider_limits(request, credentials)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        """axes locks on the failure that reaches its own limit; so do the wider ones."""
        super().user_login_failed(sender, credentials, request, **kwargs)
        if (request is None or request.axes_locked_out or self.is_whitelisted(request, credentials)
                or not self.over_wider_limits(request, credentials)):
            return
        request.axes_locked_out = True
        request.axes_credentials = credentials
        user_locked_out.send("axes", request=request, username=get_client_username(request, credentials),
                             ip_address=request.axes_ip_address)

    def over_wider_limits(self, request, credentials=None) -> bool:
        recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))
        address = request.axes_ip_address
        if _failures(recent.filter(ip_address=address)) >= settings.BASIN_LOGIN_FAILURES_PER_ADDRESS:
            return True
        username = get_client_username(request, credentials)
        if username is None or _failures(recent.filter(username=username)) < settings.BASIN_LOGIN_FAILURES_PER_ACCOUNT:
            return False
        pair_limit = min(settings.AXES_FAILURE_LIMIT, UNDER_ATTACK_PAIR_LIMIT)
        return _failures(recent.filter(username=username, ip_address=address)) >= pair_limit
