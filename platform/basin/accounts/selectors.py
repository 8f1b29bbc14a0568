"""Reads about accounts: which e-mail addresses their owners confirmed."""
from __future__ import annotations

from collections import defaultdict

from .models import ConfirmedEmail


def email_key(email: str) -> str:
    """Addresses are compared without case, as people and mail servers treat them."""
    return email.strip().lower()


def has_confirmed(user, email: str) -> bool:
    return bool(email) and ConfirmedEmail.objects.filter(user=user, email=email_key(email)).exists()


def confirmed_addresses(user_ids) -> dict[int, set[str]]:
    """user id -> the addresses that user confirmed (lower-cased); one query for a whole roster."""
    found: dict[int, set[str]] = defaultdict(set)
    for user_id, email in ConfirmedEmail.objects.filter(user_id__in=list(user_ids)).values_list("user_id", "email"):
        found[user_id].add(email)
    return found
