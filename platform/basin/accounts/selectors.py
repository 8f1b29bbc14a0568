"""Reads about accounts: which e-mail addresses their owners confirmed, and which API tokens still
count (found by their secret, unexpired, made under the password the account has now)."""
from __future__ import annotations

import binascii
from collections import defaultdict
from datetime import timedelta
from hmac import compare_digest

from django.db.models import Min, Q
from django.utils import timezone
from knox.crypto import hash_token
from knox.settings import CONSTANTS

from .addresses import email_key
from .models import ApiToken, ConfirmedEmail
from .password_changes import loaded_password_changes, password_changes_of

__all__ = ["confirmed_addresses", "email_key", "expires_at", "find_token", "has_confirmed", "live_tokens",
           "made_under_current_password", "password_changes_of", "token_lifetime", "token_refusal"]

# What a student with a refused token does; every refusal says it.
GET_A_NEW_TOKEN = "run `basin login`, or create a new token on the homework page"


def has_confirmed(user, email: str) -> bool:
    return bool(email) and ConfirmedEmail.objects.filter(user=user, email=email_key(email)).exists()


def confirmed_addresses(user_ids) -> dict[int, set[str]]:
    """user id -> the addresses that user confirmed (as email_key writes them); one query for a whole roster."""
    found: dict[int, set[str]] = defaultdict(set)
    for user_id, email in ConfirmedEmail.objects.filter(user_id__in=list(user_ids)).values_list("user_id", "email"):
        found[user_id].add(email)
    return found


def made_under_current_password(token: ApiToken) -> bool:
    """Made since the account's password was last set (basin.accounts.password_changes)."""
    return token.password_changes == loaded_password_changes(token.user)


def token_lifetime(user) -> timedelta | None:
    """The shortest token lifetime among the courses the user is in (any role); None: no expiry. (Read
    through the user's memberships: accounts sit below courses and import nothing of theirs.)"""
    days = user.memberships.aggregate(days=Min("course__token_lifetime_days"))["days"]
    return None if days is None else timedelta(days=days)


def find_token(key: str) -> ApiToken | None:
    """The token whose secret is `key`, live or not: knox's lookup (rows with the key's first 15
    characters, then the digest of the whole key compared in constant time)."""
    try:
        digest = hash_token(key)
    except (TypeError, ValueError, binascii.Error):
        return None
    for token in ApiToken.objects.filter(token_key=key[:CONSTANTS.TOKEN_KEY_LENGTH]).select_related(
            "user", "user__password_changes"):
        if compare_digest(digest, token.digest):
            return token
    return None


def expires_at(token: ApiToken):
    """When a token stops counting: its own expiry, or sooner where the owner's courses now set a
    shorter lifetime (a course may shorten it after the token was made, or the owner may join a
    stricter course; a token carried over from before expiries has none of its own)."""
    lifetime = token_lifetime(token.user)
    by_course = None if lifetime is None else token.created + lifetime
    return min((t for t in (token.expiry, by_course) if t is not None), default=None)


def token_refusal(token: ApiToken) -> tuple[str, str] | None:
    """Why a token found by its secret no longer counts, as (error code, a sentence that says what
    to do); None while it counts."""
    expiry = expires_at(token)
    if expiry is not None and expiry <= timezone.now():
        when = timezone.localtime(expiry).strftime("%Y-%m-%d %H:%M %Z")
        return "token_expired", (f"This token expired on {when} (your course sets how long a token lasts): "
                                 f"{GET_A_NEW_TOKEN}.")
    if not made_under_current_password(token):
        return "token_revoked", (f"This token was revoked: the account's password changed after it was made. "
                                 f"{GET_A_NEW_TOKEN[0].upper()}{GET_A_NEW_TOKEN[1:]}.")
    return None


def live_tokens(user) -> list[ApiToken]:
    """The user's tokens that still count, newest first."""
    unexpired = ApiToken.objects.filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()), user=user)
    return [t for t in unexpired.select_related("user", "user__password_changes").order_by("-created")
            if token_refusal(t) is None]
