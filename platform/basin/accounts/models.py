"""What Basin knows about accounts beyond Django's user: the e-mail addresses their owners proved
to read, and their API tokens. Data only: the rules live in services.py (writes) and selectors.py (reads)."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from knox.models import AbstractAuthToken


class ConfirmedEmail(models.Model):
    """`user` opened a confirmation link sent to `email`, logged in as themselves. Only such an
    address lets a course's roster match, enroll or promote an account that roster did not create."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="confirmed_emails")
    email = models.EmailField(max_length=254, help_text="lower-cased")
    confirmed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "email"], name="one_confirmation_per_address")]

    def __str__(self) -> str:
        return f"{self.email} (confirmed by {self.user_id})"


class ApiToken(AbstractAuthToken):
    """A personal API token (django-rest-knox's model, settings.KNOX_TOKEN_MODEL). Only a SHA-512
    digest of the secret is kept (knox finds a row by its first 15 characters, `token_key`, then
    compares digests); the secret itself is shown once, when it is made."""

    class Label(models.TextChoices):
        BASIN_LOGIN = "basin login", "basin login"  # POST /api/auth/token/: username and password
        WEB_PAGE = "web page", "web page"  # the homework page's box; a new one revokes the old one

    label = models.CharField(max_length=16, choices=Label.choices)
    # How many times the owner's password had been set when the token was made: a new password,
    # set by any path, raises the count (PasswordChanges) and so revokes the token.
    password_changes = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["user", "label"], name="api_token_user_label")]

    def __str__(self) -> str:
        return f"{self.label} token {self.token_key[:8]}… of {self.user_id}"


class PasswordChanges(models.Model):
    """How many times a user's password was set, by any path that sets one (Django tells every
    password validator: basin.accounts.password_changes). Not a re-hash on login (a Django upgrade's
    new hasher) nor a rotated SECRET_KEY: those change no password, so they revoke no token."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="password_changes")
    count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.count} password changes of {self.user_id}"
