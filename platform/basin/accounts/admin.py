"""The admin's own user pages (superusers only) keep the username rules of sign-up and rosters:
adding or renaming an account to a look-alike of another is refused there too. API tokens are
listed without secrets (there are none to show) and can be revoked (deleted), never made here."""
from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from .models import ApiToken
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


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "label", "starts_with", "created", "expiry"]
    list_filter = ["label"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    fields = readonly_fields = ("user", "label", "starts_with", "created", "expiry")

    @admin.display(description="starts with")
    def starts_with(self, token) -> str:
        return token.token_key[:8]

    def has_add_permission(self, request) -> bool:  # a token is made by its owner, who alone sees its secret
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
