"""Submission endpoints: a member's view of a homework (with their quota), upload and list (per
homework), and one submission's status."""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from basin.courses import access
from basin.courses.api import HomeworkSerializer
from basin.courses.models import Membership
from basin.courses.selectors import homework_for_member
from basin.errors import ApplicationError
from basin.schema import errors

from . import selectors, services
from .serializers import SubmissionSerializer

QUOTA = inline_serializer("Quota", {
    "daily_quota": serializers.IntegerField(), "daily_used": serializers.IntegerField(),
    "daily_left": serializers.IntegerField(),
    "resets_at": serializers.DateTimeField(allow_null=True, help_text="when the next counted submission frees up"),
    "total_quota": serializers.IntegerField(allow_null=True), "total_used": serializers.IntegerField(),
    "total_left": serializers.IntegerField(allow_null=True), "left": serializers.IntegerField()})


def quota_body(quota) -> dict:
    return {"daily_quota": quota.daily_quota, "daily_used": quota.daily_used, "daily_left": quota.daily_left,
            "resets_at": quota.resets_at, "total_quota": quota.total_quota, "total_used": quota.total_used,
            "total_left": quota.total_left, "left": quota.left}


class HomeworkForMemberSerializer(HomeworkSerializer):
    """The schema of what a member reads: the homework, their role, their quota."""
    role = serializers.ChoiceField(Membership.Role.choices, read_only=True)
    quota = QUOTA

    class Meta(HomeworkSerializer.Meta):
        fields = HomeworkSerializer.Meta.fields + ["role", "quota"]


class HomeworkDetailApi(APIView):
    @extend_schema(responses={200: HomeworkForMemberSerializer, **errors(401, 404)},
                   description="The homework, for its course's members; the body also has your `role` and, for "
                               "a student, your `quota` (what is left today and in all, and when the next frees up).")
    def get(self, request, slug: str):
        homework, viewer = homework_for_member(slug, request.user)
        quota = quota_body(selectors.quota_of(homework, request.user))
        return Response(HomeworkSerializer(homework).data | {"role": viewer.role, "quota": quota})


class HomeworkSubmissionsApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema_serializer(component_name="SubmissionUpload")
    class Input(serializers.Serializer):
        file = serializers.FileField(allow_empty_file=False)
        note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
        baseline = serializers.BooleanField(required=False, default=False)
        force = serializers.BooleanField(required=False, default=False,
                                         help_text="take a file identical to one of your graded or waiting "
                                                   "submissions (refused with 409 otherwise)")

    @extend_schema(responses={200: SubmissionSerializer(many=True), **errors(401, 404)},
                   description="Your submissions to the homework, newest first.")
    def get(self, request, slug: str):
        homework, viewer = homework_for_member(slug, request.user)
        return Response(SubmissionSerializer(selectors.submissions_of(request.user, homework), many=True,
                                             context={"viewer": viewer}).data)

    @extend_schema(request={"multipart/form-data": Input},
                   responses={201: SubmissionSerializer, **errors(400, 401, 403, 404, 409, 413, 429)},
                   description="Upload a checkpoint (a bundle .zip or a torch.export .pt2); it is queued for grading.")
    def post(self, request, slug: str):
        homework, viewer = homework_for_member(slug, request.user)
        # Refuse an oversized upload from its declared length, before reading the body.
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise ApplicationError("invalid_request", "The Content-Length header is not a number.") from None
        services.check_upload_size(homework, max(0, declared - 64 * 1024))
        if not viewer.is_staff:  # a closed homework or a used quota: refused before the body is read
            services.may_submit(homework=homework, user=request.user, is_baseline=False, now=timezone.now(),
                                membership=Membership.objects.filter(course_id=homework.course_id,
                                                                     user=request.user).first())
        if request.FILES.get("file") is not None:  # a file sent but empty is not a missing field
            services.check_not_empty(request.FILES["file"])
        data = self.Input(data=request.data)
        if not data.is_valid():
            raise ApplicationError("invalid_request", "Send the checkpoint as a multipart form field named 'file'.",
                                   details=data.errors)
        submission = services.submit(homework=homework, user=request.user, upload=data.validated_data["file"],
                                     note=data.validated_data["note"], is_baseline=data.validated_data["baseline"],
                                     force=data.validated_data["force"])
        return Response(SubmissionSerializer(submission, context={"viewer": viewer}).data,
                        status=status.HTTP_201_CREATED)


class SubmissionDetailApi(APIView):
    @extend_schema(responses={200: SubmissionSerializer, **errors(401, 404)})
    def get(self, request, submission_id: int):
        submission = selectors.submission_for(submission_id, request.user)
        viewer = access.viewer_of(submission.homework.course_id, request.user)
        return Response(SubmissionSerializer(submission, context={"viewer": viewer}).data)


class SubmissionCancelApi(APIView):
    @extend_schema(request=None, responses={200: SubmissionSerializer, **errors(401, 404, 409)},
                   description="Cancel a submission still waiting for the grader (the course's TAs: also one "
                               "running); it stops counting against the quota.")
    def post(self, request, submission_id: int):
        submission = selectors.submission_for(submission_id, request.user)
        viewer = access.viewer_of(submission.homework.course_id, request.user)
        submission = services.cancel(submission=submission, actor_is_staff=viewer.is_staff)
        return Response(SubmissionSerializer(submission, context={"viewer": viewer}).data)


SELECTION = inline_serializer("FinalSelection", {"final_selections": serializers.IntegerField(),
                                                 "selected": SubmissionSerializer(many=True)})


class HomeworkSelectionApi(APIView):
    """The student's final selection: the submissions that count on the private leaderboard."""

    @extend_schema_serializer(component_name="FinalSelectionRequest")
    class Input(serializers.Serializer):
        ids = serializers.ListField(child=serializers.IntegerField(min_value=1), allow_empty=True)

    @extend_schema(responses={200: SELECTION, **errors(401, 404)})
    def get(self, request, slug: str):
        homework, viewer = homework_for_member(slug, request.user)
        chosen = [s for s in selectors.submissions_of(request.user, homework) if s.selected]
        return Response(self._body(homework, chosen, viewer))

    @extend_schema(request=Input, responses={200: SELECTION, **errors(400, 401, 403, 404)})
    def post(self, request, slug: str):
        homework, viewer = homework_for_member(slug, request.user)
        data = self.Input(data=request.data)
        if not data.is_valid():
            raise ApplicationError("invalid_request", 'Send {"ids": [submission ids]}.', details=data.errors)
        chosen = services.select_final(homework=homework, user=request.user, ids=data.validated_data["ids"])
        return Response(self._body(homework, chosen, viewer))

    @staticmethod
    def _body(homework, chosen, viewer) -> dict:
        return {"final_selections": homework.final_selections,
                "selected": SubmissionSerializer(chosen, many=True,
                                                 context={"viewer": viewer}).data}
