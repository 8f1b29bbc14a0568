"""The forms of joining a course: its join code (checked before anything is made), and signing up
with one. The account fields themselves (address, username) are the accounts app's."""
from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm

from basin.accounts.forms import AddressField
from basin.accounts.throttles import WRONG_CODE
from basin.accounts.usernames import validate_new_username
from basin.errors import ApplicationError

from .selectors import course_with_join_code

# Username errors that tell whether (or which) accounts exist: shown only with a valid join code.
_REVEALING = {"unique", "username_lookalike"}


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


def has_unknown_code(form: forms.Form) -> bool:
    return any(e.code == WRONG_CODE for e in form.errors.as_data().get("code", []))


class JoinForm(forms.Form):
    code = JoinCodeField()


class SignUpForm(UserCreationForm):
    code = JoinCodeField()
    # The university address: how the course staff reach you, and, once you confirm it, what a
    # roster matches you by.
    email = AddressField(help_text="your university email address; Basin sends you a link to confirm it")
    field_order = ["code", "username", "email", "password1", "password2"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.pop("autofocus", None)  # the code comes first
        self.fields["code"].widget.attrs["autofocus"] = True
        self.fields["username"].help_text = "ASCII letters, digits and @ . + - _ only; 150 characters at most."

    def clean_username(self):
        username = super().clean_username()  # None where it exists already (the error is recorded)
        if username:
            validate_new_username(username)
        return username

    def _post_clean(self):
        super()._post_clean()
        if "code" in self._errors and "username" in self._errors:
            # Without a valid code, the form must not answer "does this account exist?".
            kept = [e for e in self._errors["username"].as_data() if e.code not in _REVEALING]
            if kept:
                self._errors["username"] = self.error_class(kept, renderer=self.renderer)
            else:
                del self._errors["username"]

