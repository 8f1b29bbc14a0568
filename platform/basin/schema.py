"""What the OpenAPI schema (drf-spectacular, /api/schema/ and /api/docs/) says of responses the
views build by hand: the one error shape, and the few bodies that are not a model serializer's."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ERROR = inline_serializer("Error", {"error": inline_serializer("ErrorBody", {
    "code": serializers.CharField(help_text="stable, for programs: quota_exceeded, invalid_submission, …"),
    "message": serializers.CharField(help_text="a sentence for people that says what to do"),
    "details": serializers.DictField(),
})})


def errors(*codes: int) -> dict:
    """The error responses of an operation, each in the one shape."""
    return {code: OpenApiResponse(ERROR) for code in codes}


TOKEN = inline_serializer("Token", {
    "token": serializers.CharField(help_text="send it as `Authorization: Token <token>`; shown this once"),
    "username": serializers.CharField(),
    "expiry": serializers.DateTimeField(allow_null=True, help_text="null: it does not expire (a course setting)")})
MANIFEST = OpenApiResponse(OpenApiTypes.OBJECT, description="The public manifest: each public file's sha256, size and "
                                                            "URL; the public splits' counts.")
FILE = OpenApiResponse(OpenApiTypes.BINARY, description="The file; with `Range: bytes=N-`, its tail (206).")
LEADERBOARD = inline_serializer("Leaderboard", {
    "homework": serializers.CharField(), "part": serializers.ChoiceField(["public", "private"]),
    "rows": inline_serializer("LeaderboardRow", {
        "rank": serializers.IntegerField(allow_null=True, help_text="null for baselines: shown, not ranked"),
        "name": serializers.CharField(), "public_score": serializers.FloatField(),
        "entries": serializers.IntegerField(),
        "last_submission_at": serializers.DateTimeField(), "submission_id": serializers.IntegerField(),
        "is_baseline": serializers.BooleanField(),
        "landscape": serializers.ListField(child=serializers.FloatField(allow_null=True), allow_null=True,
                                           help_text="train loss along the first 1D landscape direction"),
        "sharpness": serializers.FloatField(allow_null=True, help_text="top Hessian eigenvalue"),
        "late_penalty": serializers.FloatField(help_text="fraction already taken off the scores"),
        "private_score": serializers.FloatField(allow_null=True, help_text="private part only"),
        "public_rank": serializers.IntegerField(allow_null=True, help_text="private part only"),
        "shake_up": serializers.IntegerField(allow_null=True, help_text="private part only: public rank − private "
                                                                         "rank (places moved up at the reveal)"),
    }, many=True)})
