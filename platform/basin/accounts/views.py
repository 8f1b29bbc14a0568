"""Account pages: log in and out, sign up with a course's join code, join another course, and
choose a password from the link a TA sent after importing the roster. Logins are counted by
django-axes (settings.AXES_*); wrong join codes by throttles.JoinCodeGuard."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.messages.views import SuccessMessageMixin
from django.db import IntegrityError, transaction
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import urlencode

from basin.courses.models import Membership
from basin.courses.services import join_with_code
from basin.errors import ApplicationError

from .forms import JoinForm, SignUpForm, has_unknown_code
from .lockout import too_many_signups, wrong_join_codes
from .selectors import has_confirmed
from .services import send_email_confirmation
from .throttles import JoinCodeGuard, SignUpsPerAddress

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


def signup(request):
    if request.user.is_authenticated:  # one account per person: join the other course from there
        code = request.GET.get("code", "")
        return redirect(reverse("join") + (f"?{urlencode({'code': code})}" if code else ""))
    guard, signups = JoinCodeGuard(request), SignUpsPerAddress()
    if request.method == "POST" and guard.is_blocked():
        return wrong_join_codes(request, guard.retry_after)
    if request.method == "POST" and signups.blocked(request):
        return too_many_signups(request, signups.retry_after())
    form = SignUpForm(request.POST if request.method == "POST" else None,
                      initial={"code": request.GET.get("code", "")})
    if form.is_bound and "code" not in form.errors:  # a valid code: the answer tells about usernames
        signups.record(request)
    if form.is_valid():
        try:
            with transaction.atomic():  # no account without its course
                user = form.save()
                membership, _ = join_with_code(user=user, code=form.cleaned_data["code"])
        except ApplicationError as e:  # the course's code changed since the form was checked
            form.add_error("code", e.message)
        except IntegrityError:  # someone took the username a moment ago
            form.add_error("username", "A user with that username already exists.")
        else:
            auth_login(request, user, backend=MODEL_BACKEND)
            messages.success(request, f"Welcome! You are a student of {membership.course.title}.")
            send_confirmation(request, user)
            return redirect("join")
    elif has_unknown_code(form):
        guard.failed()
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def join(request):
    """Join a course with its code; the page also lists the courses you are in."""
    guard = JoinCodeGuard(request)
    if request.method == "POST" and guard.is_blocked():
        return wrong_join_codes(request, guard.retry_after)
    form = JoinForm(request.POST if request.method == "POST" else None, initial={"code": request.GET.get("code", "")})
    if form.is_valid():
        try:
            membership, joined = join_with_code(user=request.user, code=form.cleaned_data["code"])
        except ApplicationError as e:
            form.add_error("code", e.message)
        else:
            course = membership.course
            if joined:
                messages.success(request, f"You joined {course.title} as a student.")
            else:
                messages.info(request, f"You are in {course.title} already, as {membership.get_role_display()}; "
                                       "nothing changed.")
            return redirect("join")
    elif has_unknown_code(form):
        guard.failed()
    memberships = (Membership.objects.filter(user=request.user).select_related("course")
                   .order_by("course__title"))
    return render(request, "accounts/join.html", {"form": form, "memberships": memberships,
                                                  "email_confirmed": has_confirmed(request.user, request.user.email)})
