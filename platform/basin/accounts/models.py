"""What Basin knows about accounts beyond Django's user: the e-mail addresses their owners proved
to read. Data only: the rules live in services.py (writes) and selectors.py (reads)."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


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
