"""Counting password changes, which revoke API tokens. Django tells each password validator when a
password was set and saved, by any path (a form, the admin, `manage.py changepassword`, the roster's
set-password link, `set_password` + `save`), and never for the re-hash it does on login when the
hasher changed: so a Django upgrade or a rotated SECRET_KEY revokes no token, a new password does."""
from __future__ import annotations

from django.db.models import F


class RevokeTokensOnPasswordChange:
    """Listed in settings.AUTH_PASSWORD_VALIDATORS for its password_changed hook; it refuses no password."""

    def validate(self, password, user=None):
        return None

    def password_changed(self, password, user=None):
        if user is None or user.pk is None:
            return
        from .models import PasswordChanges

        changes, made = PasswordChanges.objects.get_or_create(user=user, defaults={"count": 1})
        if not made:
            PasswordChanges.objects.filter(pk=changes.pk).update(count=F("count") + 1)

    def get_help_text(self):
        return "A new password signs out every API token of the account (basin, notebooks)."


def password_changes_of(user) -> int:
    """The user's count now, read from the database (0 before any was recorded)."""
    from .models import PasswordChanges

    return PasswordChanges.objects.filter(user_id=user.pk).values_list("count", flat=True).first() or 0


def loaded_password_changes(user) -> int:
    """The count loaded with the user (a token's select_related("user__password_changes"): no query)."""
    from .models import PasswordChanges

    try:
        return user.password_changes.count
    except PasswordChanges.DoesNotExist:
        return 0
