"""The admin's own user pages (superusers only) keep the username rules of sign-up and rosters:
adding or renaming an account to a look-alike of another is refused there too."""
from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from .usernames import validate_new_username


class _NewUsernameRules:
    def clean_username(self):
        username = super().clean_username() if hasattr(super(), "clean_username") else self.cleaned_data["username"]
        if username and username != getattr(self.instance, "username", None):
            validate_new_username(username, exclude_pk=self.instance.pk)
        return username


class UserCreation(_NewUsernameRules, AdminUserCreationForm):
    pass


class UserChange(_NewUsernameRules, UserChangeForm):
    pass


class BasinUserAdmin(UserAdmin):
    add_form = UserCreation
    form = UserChange


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), BasinUserAdmin)
