"""Which usernames a new account may take: ones that cannot pass for another account's on a
named leaderboard, in a TA's list or in an admin page.

Two rules. A username is ASCII letters, digits and @ . + - _ only, so a Cyrillic "а" or a
full-width "ａ" never stands in for a Latin "a". And it may not look like an existing username:
two names with the same skeleton are one name. As Unicode's confusables do (UTS #39), the skeleton
maps each character on its own to a prototype: I, 1 to l; O, 0 to o; m to rn; w to vv; d to cl;
case folded. Character by character, so overlaps match too: "vw", "wv" and "vvv" are all "vvv"
(replacing sequences in turn made "vvv" "wv", and missed them)."""
from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

ALLOWED = re.compile(r"[A-Za-z0-9@.+_-]+")
NOT_ASCII_MESSAGE = ("may contain only the ASCII letters a-z and A-Z, the digits 0-9 and @ . + - _ (no spaces, no "
                     "accents or other alphabets); write it in Latin letters, e.g. kim.minji")
LOOKALIKE_MESSAGE = ("looks like another account's username (I, l and 1, O and 0, rn and m, vv and w, cl and d "
                     "count as the same letters); choose one that differs in more than that")
# Before case folding: the capital I looks like l, not like i.
_BEFORE_FOLDING = str.maketrans({"I": "l", "1": "l", "0": "o", "O": "o"})
# After it: each letter that looks like two to its two (M and W and D fold to these first).
_PROTOTYPES = str.maketrans({"m": "rn", "w": "vv", "d": "cl"})


def skeleton(username: str) -> str:
    """The same string for usernames that look alike."""
    return username.translate(_BEFORE_FOLDING).lower().translate(_PROTOTYPES)


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
