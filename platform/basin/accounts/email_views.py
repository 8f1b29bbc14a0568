"""Your e-mail address: see whether it is confirmed, change it, have the link sent (again), and
open the link."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from basin.errors import ApplicationError

from . import services
from .forms import EmailForm
from .lockout import too_many_attempts, wait_in_words
from .selectors import has_confirmed
from .throttles import ConfirmationEmailsPerAccount


@login_required
def email(request):
    user = request.user
    form = EmailForm(request.POST if request.method == "POST" else None, initial={"email": user.email})
    if form.is_valid():
        throttle = ConfirmationEmailsPerAccount()
        if not throttle.allow_request(request, None):
            seconds = int(throttle.wait() or throttle.duration) + 1
            return too_many_attempts(request, f"Basin sent you {throttle.num_requests} confirmation e-mails in the "
                                     f"last hour; open the newest one, or wait {wait_in_words(seconds)} and send "
                                     "another.", seconds)
        services.change_email(user=user, email=form.cleaned_data["email"])
        try:
            services.send_email_confirmation(user=user, base_url=request.build_absolute_uri("/"))
        except ApplicationError as e:
            if e.status_code == 429:  # this address was mailed too often today
                return too_many_attempts(request, e.message, e.details["retry_after"])
            form.add_error(None, e.message)
        else:
            messages.success(request, f"Basin sent a link to {user.email}. Open it while logged in as "
                                      f"{user.get_username()}; it works for a few days.")
            return redirect("account-email")
    return render(request, "accounts/email.html", {"form": form, "confirmed": has_confirmed(user, user.email)})


@login_required
def confirm_email(request, token: str):
    """The link from the e-mail. It confirms only for the account it was sent for, logged in."""
    try:
        confirmed = services.confirm_email(user=request.user, token=token)
    except ApplicationError as e:
        return render(request, "accounts/confirm_email.html", {"problem": e.message}, status=e.status_code)
    messages.success(request, f"Thank you: {confirmed.email} is confirmed as your address.")
    return redirect("account-email")
