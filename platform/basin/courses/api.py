"""Homework endpoints: details for members, creation for the course's TAs."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from basin.errors import ApplicationError
from basin.schema import errors
from basin.submissions.services import quota_of

from . import services
from .models import Course, DatasetVersion, Homework, Membership, validate_budget_overrides
from .selectors import course_for_staff, homework_for_member


class HomeworkSerializer(serializers.ModelSerializer):
    course: serializers.SlugRelatedField[Course] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    dataset: serializers.SlugRelatedField[DatasetVersion] = serializers.SlugRelatedField(slug_field="slug",
                                                                                          read_only=True)

    class Meta:
        model = Homework
        fields = ["slug", "title", "description", "course", "dataset", "opens_at", "deadline", "closes_at",
                  "late_policy", "late_penalty_percent", "late_until", "daily_quota", "total_quota", "final_selections",
                  "max_upload_mb", "time_limit_s", "memory_limit_mb", "leaderboard_is_public",
                  "pseudonymous_leaderboard", "show_logs_to_students", "diagnostics_enabled", "diagnostics_budget",
                  "private_revealed"]

    closes_at = serializers.DateTimeField(read_only=True, help_text="the deadline, or the end of the late period")
    private_revealed = serializers.BooleanField(source="private_is_revealed", read_only=True)


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
        homework, role = homework_for_member(slug, request.user)
        return Response(HomeworkSerializer(homework).data | {"role": role,
                                                             "quota": quota_body(quota_of(homework, request.user))})


class CourseHomeworksApi(APIView):
    @extend_schema_serializer(component_name="HomeworkCreate")
    class Input(serializers.Serializer):
        slug = serializers.SlugField()
        title = serializers.CharField(max_length=200)
        description = serializers.CharField(required=False, allow_blank=True, default="")
        dataset = serializers.SlugField()
        opens_at = serializers.DateTimeField()
        deadline = serializers.DateTimeField()
        daily_quota = serializers.IntegerField(required=False, min_value=1, default=5)
        total_quota = serializers.IntegerField(required=False, min_value=1, allow_null=True, default=None)
        final_selections = serializers.IntegerField(required=False, min_value=1, max_value=20, default=2)
        late_policy = serializers.ChoiceField(Homework.LatePolicy.choices, required=False,
                                              default=Homework.LatePolicy.REFUSE)
        late_penalty_percent = serializers.IntegerField(required=False, min_value=0, max_value=100, default=10)
        late_until = serializers.DateTimeField(required=False, allow_null=True, default=None)
        pseudonymous_leaderboard = serializers.BooleanField(required=False, default=False)
        max_upload_mb = serializers.IntegerField(required=False, min_value=1, max_value=4096, default=50)
        time_limit_s = serializers.IntegerField(required=False, min_value=10, max_value=3600, default=300)
        memory_limit_mb = serializers.IntegerField(required=False, min_value=256, max_value=65536, default=2048)
        leaderboard_is_public = serializers.BooleanField(required=False, default=True)
        show_logs_to_students = serializers.BooleanField(required=False, default=True)
        diagnostics_enabled = serializers.BooleanField(required=False, default=True)
        diagnostics_budget = serializers.JSONField(required=False, default=dict, validators=[validate_budget_overrides])

    @extend_schema(request=Input, responses={201: HomeworkSerializer, **errors(400, 401, 404, 409)})
    def post(self, request, course_slug: str):
        course = course_for_staff(course_slug, request.user)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        dataset = DatasetVersion.objects.filter(slug=fields.pop("dataset")).first()
        if dataset is None:
            raise ApplicationError("unknown_dataset", "No dataset version has that slug; build one with "
                                   "`python manage.py build_dataset`.")
        homework = services.create_homework(actor=request.user, course=course, dataset=dataset, **fields)
        return Response(HomeworkSerializer(homework).data, status=status.HTTP_201_CREATED)
