"""Reads about accounts: which e-mail addresses their owners confirmed."""
from __future__ import annotations

from collections import defaultdict

from .addresses import email_key
from .models import ConfirmedEmail

__all__ = ["confirmed_addresses", "email_key", "has_confirmed"]


def has_confirmed(user, email: str) -> bool:
    return bool(email) and ConfirmedEmail.objects.filter(user=user, email=email_key(email)).exists()


def confirmed_addresses(user_ids) -> dict[int, set[str]]:
    """user id -> the addresses that user confirmed (as email_key writes them); one query for a whole roster."""
    found: dict[int, set[str]] = defaultdict(set)
    for user_id, email in ConfirmedEmail.objects.filter(user_id__in=list(user_ids)).values_list("user_id", "email"):
        found[user_id].add(email)
    return found
