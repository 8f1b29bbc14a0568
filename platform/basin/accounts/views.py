"""Account pages: log in and out, sign up with a course's join code, join another course, and
choose a password from the link a TA sent after importing the roster."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.messages.views import SuccessMessageMixin
from django.db import IntegrityError, transaction
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import urlencode

from basin.courses.models import Membership
from basin.courses.selectors import course_with_join_code
from basin.courses.services import join_with_code
from basin.errors import ApplicationError


class JoinCodeField(forms.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=64, label="Join code", help_text="from your course staff, e.g. k7pq2xmd9a",
                         **kwargs)

    def clean(self, value):
        code = super().clean(value)
        try:
            course_with_join_code(code)  # checked here so a sign-up with a wrong code creates no account
        except ApplicationError as e:
            raise forms.ValidationError(e.message, code=e.code) from None
        return code


class JoinForm(forms.Form):
    code = JoinCodeField()


class SignUpForm(UserCreationForm):
    code = JoinCodeField()
    # The university address: how the course staff reach you, and what a roster matches you by.
    email = forms.EmailField(help_text="your university email address")
    field_order = ["code", "username", "email", "password1", "password2"]

    def save(self, commit=True):
        user = super().save(commit=False)
        user.email = self.cleaned_data["email"]
        if commit:
            user.save()
        return user

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.pop("autofocus", None)  # the code comes first
        self.fields["code"].widget.attrs["autofocus"] = True


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"


class LogoutView(auth_views.LogoutView):
    """Logging out is a POST (Django's rule, so no other site can log you out); a GET shows the button."""

    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        return render(request, "accounts/logout.html")


class SetPasswordView(SuccessMessageMixin, auth_views.PasswordResetConfirmView):
    """The roster's one-time link: choose a password, and be logged in."""

    template_name = "accounts/set_password.html"
    post_reset_login = True
    success_url = reverse_lazy("join")
    success_message = "Your password is set and you are logged in. Next time, log in with your username and it."


def signup(request):
    if request.user.is_authenticated:  # one account per person: join the other course from there
        code = request.GET.get("code", "")
        return redirect(reverse("join") + (f"?{urlencode({'code': code})}" if code else ""))
    form = SignUpForm(request.POST if request.method == "POST" else None,
                      initial={"code": request.GET.get("code", "")})
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
            auth_login(request, user)
            messages.success(request, f"Welcome! You are a student of {membership.course.title}.")
            return redirect("join")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def join(request):
    """Join a course with its code; the page also lists the courses you are in."""
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
    memberships = (Membership.objects.filter(user=request.user).select_related("course")
                   .order_by("course__title"))
    return render(request, "accounts/join.html", {"form": form, "memberships": memberships})
