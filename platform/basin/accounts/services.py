"""Writes about accounts: confirming that a person reads the e-mail address they gave, and making
and revoking API tokens (at the end).

The link is signed (django.core.signing, with the site's secret key) over the account and the
address, expires after settings.BASIN_EMAIL_CONFIRM_DAYS, and confirms only while its own account
is logged in: someone who signs up with a classmate's address cannot confirm it, and the classmate,
clicking a link they never asked for, confirms nothing for the stranger."""
from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from basin.errors import ApplicationError

from .addresses import email_key, normalise_address, validate_ascii_local_part
from .lockout import wait_in_words
from .models import ApiToken, ConfirmedEmail
from .selectors import made_under_current_password, password_changes_of, token_lifetime
from .throttles import ConfirmationEmailsPerDestination

log = logging.getLogger(__name__)
_SALT = "basin.accounts.confirm-email"


def confirmation_link(user, base_url: str) -> str:
    token = signing.dumps({"user": user.pk, "email": email_key(user.email)}, salt=_SALT)
    return base_url.rstrip("/") + reverse("confirm-email", kwargs={"token": token})


def send_email_confirmation(*, user, base_url: str) -> None:
    """E-mail `user` a link that confirms their current address; ApplicationError if they have
    none, one Basin cannot key a confirmation on, one mailed too often today, or the mail server
    did not take the message."""
    if not user.email:
        raise ApplicationError("no_email", "Your account has no e-mail address yet: enter your university address "
                               "on your e-mail page, and Basin sends the link there.")
    try:
        validate_ascii_local_part(user.email)  # an address from before this rule
    except ValidationError as e:
        raise ApplicationError("email_not_ascii", f"{e.messages[0]} Change it on your e-mail page.") from None
    mails = ConfirmationEmailsPerDestination(email_key(user.email))
    if not mails.allow_request(None, None):
        seconds = int(mails.wait() or mails.duration) + 1
        raise ApplicationError("too_many_emails", f"Basin sent {mails.num_requests} confirmation links to "
                               f"{user.email} in the last day; open the newest one, or send another in "
                               f"{wait_in_words(seconds)} from your e-mail page.",
                               details={"retry_after": seconds})
    days = settings.BASIN_EMAIL_CONFIRM_DAYS
    body = (f"Hello {user.get_username()},\n\n"
            f"someone (we hope you) gave {user.email} as the e-mail address of the Basin account "
            f"\"{user.get_username()}\". To confirm that it is yours, open this link while logged in to Basin as "
            f"{user.get_username()}:\n\n{confirmation_link(user, base_url)}\n\n"
            f"The link works for {days} days. Your course staff's roster matches your account by a confirmed "
            "address only.\n\nIf you did not create this account, ignore this message: without the link, the "
            "address stays unconfirmed.\n")
    try:
        send_mail("Confirm your e-mail address for Basin", body, None, [user.email])
    except (smtplib.SMTPException, OSError) as e:  # refused, unreachable, timed out
        log.warning("confirmation e-mail to user %s not sent: %s", user.pk, e)
        raise ApplicationError("email_not_sent", "Basin could not send the confirmation e-mail just now; try again in "
                               "a few minutes from your e-mail page.") from None


def confirm_email(*, user, token: str) -> ConfirmedEmail:
    """Record that `user` (logged in) opened the link made for their current address."""
    try:
        claim = signing.loads(token, salt=_SALT, max_age=settings.BASIN_EMAIL_CONFIRM_DAYS * 24 * 3600)
    except signing.SignatureExpired:
        raise ApplicationError("confirmation_expired", "This confirmation link has expired; send yourself a new one "
                               "from your e-mail page.") from None
    except signing.BadSignature:
        raise ApplicationError("confirmation_invalid", "This confirmation link is not valid (perhaps it was cut "
                               "short by your mail program); send yourself a new one from your e-mail page.") from None
    if claim.get("user") != user.pk:
        raise ApplicationError("confirmation_for_another_account", "This link confirms the address of another "
                               "account. Log out, log in as the account it was sent for, and open it again.")
    if claim.get("email") != email_key(user.email):
        raise ApplicationError("confirmation_outdated", f"This link was sent for {claim.get('email')}, but your "
                               f"account's address is now {user.email}; send a new link from your e-mail page.")
    confirmed, _ = ConfirmedEmail.objects.get_or_create(user=user, email=claim["email"])
    return confirmed


def change_email(*, user, email: str) -> None:
    """Set the account's address (unconfirmed until its link is opened)."""
    if email_key(email) != email_key(user.email):
        user.email = normalise_address(email)
        user.save(update_fields=["email"])


# --- API tokens ------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored
    replaced: int  # the web-page tokens this one revoked


def create_token(*, user, label: str) -> NewToken:
    """A new token for `user`, with the shortest lifetime of their courses, made under their current
    password. A web-page token revokes the previous one; `basin login` tokens past
    settings.BASIN_LOGIN_TOKENS_KEPT revoke the oldest. The user's dead tokens are swept away."""
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).exists()  # one maker per account at a time
        mine = ApiToken.objects.filter(user=user)
        mine.filter(expiry__lte=timezone.now()).delete()
        mine.filter(digest__in=[t.digest for t in mine.select_related("user", "user__password_changes")
                                if not made_under_current_password(t)]).delete()
        replaced = 0
        if label == ApiToken.Label.WEB_PAGE:
            replaced, _ = mine.filter(label=label).delete()
        token, secret = ApiToken.objects.create(user=user, expiry=token_lifetime(user), label=label,
                                                password_changes=password_changes_of(user))
        if label == ApiToken.Label.BASIN_LOGIN:
            kept = mine.filter(label=label).order_by("-created").values_list("digest", flat=True)
            mine.filter(digest__in=list(kept[settings.BASIN_LOGIN_TOKENS_KEPT:])).delete()
    return NewToken(token, secret, replaced)


def revoke_token(token: ApiToken) -> None:
    token.delete()
