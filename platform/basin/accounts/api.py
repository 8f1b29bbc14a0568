"""Logging in from the CLI: username and password for an API token. django-axes counts the
failures (per account and per address) and answers 429 once there were too many."""
from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from basin.errors import ApplicationError
from basin.schema import TOKEN, errors

from .lockout import lockout_response


class TokenApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema_serializer(component_name="TokenRequest")
    class Input(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=1024, style={"input_type": "password"})

    @extend_schema(request=Input, responses={200: TOKEN, **errors(400, 401, 429)})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        # Django's request, not DRF's: axes marks it, and its middleware answers a locked-out login.
        user = authenticate(request._request, **data.validated_data)
        if getattr(request._request, "axes_locked_out", False):
            return lockout_response(request._request)
        if user is None:
            raise ApplicationError("invalid_credentials", "Wrong username or password.", status_code=401)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key, "username": user.get_username()})
