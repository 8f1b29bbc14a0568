"""Which usernames a new account may take: ones that cannot pass for another account's on a
named leaderboard, in a TA's list or in an admin page.

Two rules. A username is ASCII letters, digits and @ . + - _ only, so a Cyrillic "а" or a
full-width "ａ" never stands in for a Latin "a". And it may not look like an existing username:
two names with the same skeleton (case folded, and I/l/1, O/0, rn/m, vv/w, cl/d taken as the same
letters, as Unicode's confusables list does, UTS #39) are one name."""
from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

ALLOWED = re.compile(r"[A-Za-z0-9@.+_-]+")
NOT_ASCII_MESSAGE = ("may contain only the ASCII letters a-z and A-Z, the digits 0-9 and @ . + - _ (no spaces, no "
                     "accents or other alphabets); write it in Latin letters, e.g. kim.minji")
LOOKALIKE_MESSAGE = ("looks like another account's username (I, l and 1, O and 0, rn and m count as the same "
                     "letters); choose one that differs in more than that")
# The look-alike letters among those a username may hold, each mapped to one prototype.
_SINGLE = str.maketrans({"I": "l", "1": "l", "0": "o", "O": "o"})
_SEQUENCES = (("rn", "m"), ("vv", "w"), ("cl", "d"))


def skeleton(username: str) -> str:
    """The same string for usernames that look alike."""
    folded = username.translate(_SINGLE).lower()
    for sequence, prototype in _SEQUENCES:
        folded = folded.replace(sequence, prototype)
    return folded


def validate_ascii_username(username: str) -> None:
    """ValidationError (code "username_not_ascii") unless `username` is made of the allowed characters."""
    if not ALLOWED.fullmatch(username):
        raise ValidationError(f"The username {NOT_ASCII_MESSAGE}.", code="username_not_ascii")


def lookalikes(usernames: list[str], exclude_pk=None) -> dict[str, str]:
    """For each of `usernames` that looks like an existing account's username without being it
    (ignoring case), that username. exclude_pk: an account being renamed, not compared with itself."""
    wanted = {skeleton(u): u for u in usernames}
    found: dict[str, str] = {}
    # One pass over the usernames (a university's thousands): skeletons are not stored.
    for existing in get_user_model().objects.exclude(pk=exclude_pk).values_list("username", flat=True).iterator(
            chunk_size=2000):
        new = wanted.get(skeleton(existing))
        if new is not None and new.lower() != existing.lower():
            found[new] = existing
    return found


def validate_new_username(username: str, exclude_pk=None) -> None:
    """Both rules, for an account about to be created (or renamed); ValidationError says what to do."""
    validate_ascii_username(username)
    if lookalikes([username], exclude_pk):
        raise ValidationError(f"This username {LOOKALIKE_MESSAGE}.", code="username_lookalike")
