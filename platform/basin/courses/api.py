"""Homework endpoints: creation for the course's TAs (a member's view of a homework, with their
quota, is basin.submissions.api's)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from basin.errors import ApplicationError
from basin.schema import errors

from . import services
from .models import Course, DatasetVersion, Homework, validate_budget_overrides
from .selectors import course_for_staff


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
