"""API tokens. `basin login` trades a username and password for one (django-axes counts the
failures, per account and per address, and answers 429 once there were too many); the homework
page's box makes one with the browser's session; a token revokes itself (`basin logout`) and says
whose it is (`basin login --token`)."""
from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from basin.errors import ApplicationError
from basin.schema import TOKEN, errors

from . import services
from .authentication import TokenAuthentication
from .lockout import lockout_response, too_many_tokens
from .models import ApiToken
from .selectors import expires_at, live_tokens
from .throttles import TokensPerAccount

SHOWN_CHARACTERS = 8  # of a token's secret, so its owner can tell their tokens apart
INFO_FIELDS: dict[str, serializers.Field] = {
    "label": serializers.ChoiceField(ApiToken.Label.values, help_text="how it was made"),
    "created": serializers.DateTimeField(),
    "expiry": serializers.DateTimeField(allow_null=True, help_text="null: it does not expire"),
    "starts_with": serializers.CharField(help_text=f"its first {SHOWN_CHARACTERS} characters"),
}
TOKEN_INFO = inline_serializer("TokenInfo", INFO_FIELDS)
TOKEN_LIST = inline_serializer("TokenInfoList", INFO_FIELDS, many=True)
NEW_WEB_TOKEN = inline_serializer("NewWebToken", {
    "token": serializers.CharField(help_text="the secret: shown this once, never again"), **INFO_FIELDS,
    "replaced": serializers.IntegerField(help_text="earlier web-page tokens this one revoked (0 or 1)"),
    "other_live_tokens": serializers.IntegerField(help_text="your other tokens that still work (basin login)"),
})
ME = inline_serializer("Me", {
    "username": serializers.CharField(),
    "token": inline_serializer("TokenUsed", INFO_FIELDS, allow_null=True,
                               help_text="the token this request was sent with; null for a browser session"),
})
LOGGED_OUT = inline_serializer("LoggedOut", {"revoked": TOKEN_INFO})


def describe(token: ApiToken) -> dict:
    """A token without its secret."""
    when, expiry = serializers.DateTimeField(), expires_at(token)
    return {"label": token.label, "created": when.to_representation(token.created),
            "expiry": when.to_representation(expiry) if expiry else None,
            "starts_with": token.token_key[:SHOWN_CHARACTERS]}


def over_the_limit(request, user):
    """429 if the account made too many tokens in the last hour; else None, and this one counts."""
    limit = TokensPerAccount(user)
    if limit.blocked(request):
        return too_many_tokens(request._request, limit.retry_after())
    limit.record(request)
    return None


class TokenApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema_serializer(component_name="TokenRequest")
    class Input(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=1024, style={"input_type": "password"})

    @extend_schema(request=Input, responses={200: TOKEN, **errors(400, 401, 429)},
                   description="A new `basin login` token for the account. Its expiry is the shortest token lifetime "
                               "of your courses (null: none); a new password revokes it.")
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        # Django's request, not DRF's: axes marks it, and its middleware answers a locked-out login.
        user = authenticate(request._request, **data.validated_data)
        if getattr(request._request, "axes_locked_out", False):
            return lockout_response(request._request)
        if user is None:
            raise ApplicationError("invalid_credentials", "Wrong username or password.")
        if refused := over_the_limit(request, user):
            return refused
        made = services.create_token(user=user, label=ApiToken.Label.BASIN_LOGIN)
        return Response({"token": made.secret, "username": user.get_username(),
                         "expiry": describe(made.token)["expiry"]})


class LogoutApi(APIView):
    authentication_classes = [TokenAuthentication]  # a browser session logs out on its own page

    @extend_schema(request=None, responses={200: LOGGED_OUT, **errors(401)},
                   description="Revoke the token this request is sent with (`basin logout`). Your other tokens "
                               "keep working.")
    def post(self, request):
        revoked = describe(request.auth)
        services.revoke_token(request.auth)
        return Response({"revoked": revoked})


class MeApi(APIView):
    @extend_schema(responses={200: ME, **errors(401)},
                   description="Who you are, and the token you sent (its expiry): how `basin login --token` checks a "
                               "token before saving it.")
    def get(self, request):
        token = request.auth if isinstance(request.auth, ApiToken) else None
        return Response({"username": request.user.get_username(), "token": describe(token) if token else None})


class TokensApi(APIView):
    """The homework page's token box. A browser session only: a token cannot make more tokens."""

    authentication_classes = [SessionAuthentication]

    @extend_schema(responses={200: TOKEN_LIST, **errors(403)},
                   description="Your tokens that still work, newest first, without their secrets.")
    def get(self, request):
        return Response([describe(t) for t in live_tokens(request.user)])

    @extend_schema(request=None, responses={201: NEW_WEB_TOKEN, **errors(403, 429)},
                   description="A new web-page token, shown once; your previous web-page token stops working. "
                               "`basin login` tokens are not touched.")
    def post(self, request):
        if refused := over_the_limit(request, request.user):
            return refused
        made = services.create_token(user=request.user, label=ApiToken.Label.WEB_PAGE)
        others = [t for t in live_tokens(request.user) if t.digest != made.token.digest]
        return Response({"token": made.secret, **describe(made.token), "replaced": made.replaced,
                         "other_live_tokens": len(others)}, status=201)
