"""E-mail addresses as Basin stores, mails and compares them.

A confirmation proves that someone reads the address the link was mailed to, so the key a roster
matches by must be that address, not a look-alike of it. Python's str.lower() maps the KELVIN SIGN
(U+212A) to "k", and Django's e-mail validator accepts such letters in the part before @: a link
mailed to "\u212aim@uni.edu" (another mailbox, if it exists at all) confirmed "kim@uni.edu". So:
- The part before @ is ASCII only: refused otherwise, with a message that says so.
- The domain is stored as Django's mail code sends it: IDNA (punycode) ASCII, lower-cased.
- The key folds ASCII case only, the same on every side (account, link, roster)."""
from __future__ import annotations

import string

from django.core.exceptions import ValidationError
from django.utils.encoding import punycode

NOT_ASCII_MESSAGE = ("The part before @ may hold only ASCII letters, digits and . _ + - and the like (no accents "
                     "or other alphabets); enter the address your university gave you, e.g. kim.minji@uni.edu.")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _split(address: str) -> tuple[str, str]:
    local, _, domain = address.strip().rpartition("@")
    return local, domain


def _ascii_domain(domain: str) -> str:
    try:
        return punycode(domain).lower() if not domain.isascii() else domain.lower()
    except UnicodeError:  # not a domain IDNA can write: left as it is (the validators refuse it)
        return domain.translate(_ASCII_LOWER)


def validate_ascii_local_part(address: str) -> None:
    """ValidationError (code "email_not_ascii") if the part before @ holds a character outside ASCII."""
    local, _ = _split(address)
    if not local.isascii():
        raise ValidationError(NOT_ASCII_MESSAGE, code="email_not_ascii")


def normalise_address(address: str) -> str:
    """The address to store and mail: the part before @ as typed, the domain in ASCII, lower-cased."""
    local, domain = _split(address)
    return f"{local}@{_ascii_domain(domain)}" if local else address.strip()


def email_key(address: str) -> str:
    """What confirmations and rosters compare: the normalised address with ASCII letters lower-cased
    (nothing else folded: a non-ASCII letter stays itself, so it never matches an ASCII one)."""
    return normalise_address(address).translate(_ASCII_LOWER)
