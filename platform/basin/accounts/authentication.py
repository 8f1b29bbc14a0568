"""`Authorization: Token <key>` for the API: django-rest-knox's authentication, with Basin's token
model and two refusals of its own that say what to do (an expired token, a token made before the
password changed). A refused token is deleted, as knox deletes an expired one."""
from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework import exceptions

from .selectors import find_token, token_refusal


class TokenAuthentication(KnoxTokenAuthentication):
    """request.auth is the ApiToken used (POST /api/auth/logout/ revokes it)."""

    def authenticate_credentials(self, token: bytes):
        try:
            key = token.decode("utf-8")
        except UnicodeDecodeError:  # knox would answer 500
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        found = find_token(key)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        refusal = token_refusal(found)
        if refusal is not None:
            found.delete()  # as knox deletes an expired token (not services: DRF imports this module early)
            code, message = refusal
            raise exceptions.AuthenticationFailed(message, code=code)
        return self.validate_user(found)


class TokenScheme(OpenApiAuthenticationExtension):
    """The schema's security scheme for it: the same `tokenAuth` DRF's own token had."""

    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization",
                                                   token_prefix=self.target.authenticate_header(None))
