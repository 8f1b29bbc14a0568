from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from basin.courses.selectors import homework_for_viewer
from basin.schema import LEADERBOARD, errors

from .selectors import public_leaderboard


class LeaderboardApi(APIView):
    permission_classes = [AllowAny]  # visibility is the homework's: homework_for_viewer decides

    @extend_schema(responses={200: LEADERBOARD, **errors(404)})
    def get(self, request, slug: str):
        homework = homework_for_viewer(slug, request.user)
        return Response({"homework": homework.slug, "part": "public",
                         "rows": [asdict(row) for row in public_leaderboard(homework)]})
