"""The pages of joining a course: sign up with its join code (one account per person), or, logged
in, join another course with its code. Wrong codes are counted (basin.accounts.throttles.JoinCodeGuard)
and so are sign-ups per address (SignUpsPerAddress)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from basin.accounts.lockout import too_many_signups, wrong_join_codes
from basin.accounts.selectors import has_confirmed
from basin.accounts.throttles import JoinCodeGuard, SignUpsPerAddress
from basin.accounts.views import MODEL_BACKEND, send_confirmation
from basin.errors import ApplicationError

from .join_forms import JoinForm, SignUpForm, has_unknown_code
from .models import Membership
from .services import join_with_code, sign_up


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
        data = form.cleaned_data
        try:
            user, membership = sign_up(username=data["username"], email=data["email"], password=data["password1"],
                                       code=data["code"])
        except ApplicationError as e:  # the course's code changed since the form was checked, or the name was taken
            form.add_error("username" if e.code == "username_taken" else "code", e.message)
        else:
            auth_login(request, user, backend=MODEL_BACKEND)
            messages.success(request, f"Welcome! You are a student of {membership.course.title}.")
            send_confirmation(request, user)
            return redirect("join")
    elif has_unknown_code(form):
        guard.failed()
    return render(request, "courses/signup.html", {"form": form})


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
    return render(request, "courses/join.html", {"form": form, "memberships": memberships,
                                                  "email_confirmed": has_confirmed(request.user, request.user.email)})
