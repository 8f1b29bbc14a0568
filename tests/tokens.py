"""API tokens for tests: a persona's `basin login` token, the same one on every call while it lives
(as DRF's Token.objects.get_or_create gave), made the way the API makes it."""
from __future__ import annotations

_made: dict[int, str] = {}  # user pk -> the secret of its last token here: the database keeps none


def token_for(user) -> str:
    from basin.accounts.models import ApiToken
    from basin.accounts.selectors import find_token, token_refusal
    from basin.accounts.services import create_token

    known = _made.get(user.pk)
    found = find_token(known) if known else None
    if found is not None and found.user_id == user.pk and token_refusal(found) is None:
        return known
    _made[user.pk] = create_token(user=user, label=ApiToken.Label.BASIN_LOGIN).secret
    return _made[user.pk]
