"""Account pages: log in and out, and choose a password from the link a TA sent after importing
the roster. Logins are counted by django-axes (settings.AXES_*). Signing up with a course's join
code, and joining another course, are the courses app's (basin.courses.join_views)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.messages.views import SuccessMessageMixin
from django.shortcuts import render
from django.urls import reverse_lazy

from basin.errors import ApplicationError

from .services import send_email_confirmation

# Accounts made here are logged in without a password check: name the backend that loads them.
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"


class LogoutView(auth_views.LogoutView):
    """Logging out is a POST (Django's rule, so no other site can log you out); a GET shows the button."""

    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        return render(request, "accounts/logout.html")


class SetPasswordView(SuccessMessageMixin, auth_views.PasswordResetConfirmView):
    """The roster's one-time link: choose a password, and be logged in; Basin then e-mails a link
    that confirms the roster's address, so other courses' rosters can match the account too."""

    template_name = "accounts/set_password.html"
    post_reset_login = True
    post_reset_login_backend = MODEL_BACKEND
    success_url = reverse_lazy("join")
    success_message = "Your password is set and you are logged in. Next time, log in with your username and it."

    def form_valid(self, form):
        response = super().form_valid(form)
        send_confirmation(self.request, form.user)
        return response


def send_confirmation(request, user) -> None:
    """Send the confirmation link and say so; a mail server's refusal is a warning, not an error page."""
    if not user.email:
        return
    try:
        send_email_confirmation(user=user, base_url=request.build_absolute_uri("/"))
    except ApplicationError as e:
        messages.warning(request, e.message)
    else:
        messages.info(request, f"Basin sent a link to {user.email}: open it while logged in to confirm the address.")
