from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from basin.courses import access
from basin.courses.selectors import homework_for_viewer
from basin.errors import ApplicationError
from basin.schema import LEADERBOARD, errors

from .selectors import Row, private_leaderboard, public_leaderboard


class LeaderboardApi(APIView):
    permission_classes = [AllowAny]  # visibility is the homework's: homework_for_viewer decides

    @extend_schema(responses={200: LEADERBOARD, **errors(400, 403, 404)},
                   parameters=[OpenApiParameter("part", OpenApiTypes.STR, enum=["public", "private"],
                                                description="private: the final standings, after the reveal "
                                                            "(the default once revealed)")])
    def get(self, request, slug: str):
        homework = homework_for_viewer(slug, request.user)
        revealed = access.private_part_visible(homework)
        part = request.query_params.get("part") or ("private" if revealed else "public")
        if part not in ("public", "private"):
            raise ApplicationError("invalid_request", "part is public or private.")
        # Before the reveal, private_leaderboard refuses (not_revealed), whoever asks.
        viewer = access.viewer_of(homework.course_id, request.user)
        rows = (private_leaderboard if part == "private" else public_leaderboard)(homework, viewer)
        return Response({"homework": homework.slug, "part": part, "rows": [api_row(row) for row in rows]})


def api_row(row: Row) -> dict:
    """A row as the API has always sent it: its scores, after the late penalty, under the names
    `public_score` and `private_score` (the leaderboard's; a submission's own are before it)."""
    fields = asdict(row)
    fields["public_score"] = fields.pop("effective_public_score")
    fields["private_score"] = fields.pop("effective_private_score")
    return fields
