"""API tokens for tests: a persona's `basin login` token, the same one on every call while it lives
(as DRF's Token.objects.get_or_create gave), made the way the API makes it."""
from __future__ import annotations

_made: dict[int, tuple[str, str]] = {}  # user pk -> (digest, secret): the database keeps no secret


def token_for(user) -> str:
    from basin.accounts.models import ApiToken
    from basin.accounts.services import create_token

    known = _made.get(user.pk)
    if known and ApiToken.objects.filter(digest=known[0], user=user).exists():
        return known[1]
    made = create_token(user=user, label=ApiToken.Label.BASIN_LOGIN)
    _made[user.pk] = (made.token.digest, made.secret)
    return made.secret
