"""The answer to someone who guessed too often: 429 Too Many Requests with a Retry-After header,
the API's JSON error shape under /api/ and a plain page elsewhere. django-axes calls
lockout_response for every login path (the login page, the admin's, POST /api/auth/token/);
the join-code and sign-up paths call too_many_attempts themselves."""
from __future__ import annotations

import math

from axes.helpers import get_cool_off
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

from basin.errors import error_body


def too_many_attempts(request, message: str, retry_after: int) -> HttpResponse:
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body("too_many_attempts", message, {"retry_after": retry_after}), status=429)
    else:
        response = render(request, "accounts/too_many_attempts.html", {"message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def wait_in_words(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE. Locked out by account or by address: the message says both, so it
    tells a guesser nothing about which usernames exist."""
    seconds = int(get_cool_off(request).total_seconds())
    return too_many_attempts(request, "Too many failed logins for this account or from this address. Wait "
                             f"{wait_in_words(seconds)}, then try again; if you forgot your password, ask your course "
                             "staff for a new set-password link.", seconds)


def wrong_join_codes(request, retry_after: int) -> HttpResponse:
    return too_many_attempts(request, "Too many wrong join codes from this account or this address. Wait "
                             f"{wait_in_words(retry_after)}, then type the code again; check it with your course "
                             "staff first.", retry_after)


def too_many_signups(request, retry_after: int) -> HttpResponse:
    return too_many_attempts(request, "Too many sign-ups from this address in the last hour. Wait "
                             f"{wait_in_words(retry_after)}, then try again; if your whole class signs up from one "
                             "network, ask your course staff to import the roster instead.", retry_after)


def too_many_tokens(request, retry_after: int) -> HttpResponse:
    return too_many_attempts(request, "Too many new API tokens for this account in the last hour. Wait "
                             f"{wait_in_words(retry_after)}, then try again; a token keeps working after `basin "
                             "login`, so log in once and reuse it (BASIN_TOKEN in a notebook).", retry_after)


def counted_username(request, credentials=None) -> str | None:
    """AXES_USERNAME_CALLABLE: the account failures are counted against. Case is folded, so
    "Alice" and "alice" share one count; unprintable characters are dropped and the length capped
    at a username's, so whatever was typed fits the attempts table."""
    raw = (credentials or {}).get("username") if credentials else request.POST.get("username")
    if raw is None:
        return None
    return "".join(ch for ch in str(raw) if ch.isprintable())[:150].lower()
