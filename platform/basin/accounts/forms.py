"""The account forms: an e-mail address Basin can mail (the sign-up form is basin.courses.join_forms')."""
from __future__ import annotations

from django import forms

from .addresses import normalise_address, validate_ascii_local_part


class AddressField(forms.EmailField):
    """An address Basin can mail and key a confirmation on: ASCII before @, the domain in ASCII."""

    def clean(self, value):
        if value:  # first: Django's validator would refuse most such addresses, but not say why
            validate_ascii_local_part(str(value))
        address = super().clean(value)
        return normalise_address(address) if address else address


class EmailForm(forms.Form):
    email = AddressField(label="Your e-mail address",
                             help_text="your university address: the one your course staff's roster lists")
