"""Enrollment over the API: a TA imports the course's roster; a student joins with the join code."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from basin.accounts.lockout import wrong_join_codes
from basin.accounts.throttles import WRONG_CODE, JoinCodeGuard
from basin.errors import ApplicationError
from basin.schema import errors

from . import roster, services
from .selectors import course_for_staff

ROSTER_SUMMARY = inline_serializer("RosterSummary", {
    "course": serializers.CharField(),
    "dry_run": serializers.BooleanField(help_text="true: nothing was written; this is what an import would do"),
    "created": serializers.ListField(child=serializers.CharField(), help_text="usernames of new accounts"),
    "updated": serializers.ListField(child=serializers.CharField(),
                                     help_text="accounts whose details or role changed, or newly in the course"),
    "unchanged": serializers.ListField(child=serializers.CharField()),
    "not_in_roster": serializers.ListField(child=serializers.CharField(),
                                           help_text="members missing from the file: kept, not removed"),
    "conflicts": inline_serializer("RosterConflict", {
        "line": serializers.IntegerField(), "column": serializers.CharField(),
        "message": serializers.CharField(help_text="why nothing on this line was applied, and what to do"),
    }, many=True, help_text="lines left out (an account the roster did not create and whose owner has not "
                            "confirmed the line's e-mail address, or a look-alike username); the rest was imported"),
    "links": inline_serializer("SetPasswordLink", {
        "username": serializers.CharField(), "email": serializers.EmailField(),
        "link": serializers.URLField(help_text="send it to this person only: it sets their password, once"),
    }, many=True),
})
JOINED = inline_serializer("JoinedCourse", {
    "course": serializers.CharField(), "title": serializers.CharField(),
    "role": serializers.ChoiceField(["ta", "student"]),
    "joined": serializers.BooleanField(help_text="false: you were in the course already (your role is unchanged)"),
})


class CourseRosterApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema_serializer(component_name="RosterUpload")
    class Input(serializers.Serializer):
        file = serializers.FileField(allow_empty_file=False,
                                     help_text="CSV: username, email, first_name, last_name, student_id[, role]")
        dry_run = serializers.BooleanField(required=False, default=False, help_text="check only; write nothing")
        relink = serializers.BooleanField(required=False, default=False,
                                          help_text="new links also for listed members who never chose a password")

    @extend_schema(request={"multipart/form-data": Input},
                   responses={200: ROSTER_SUMMARY, **errors(400, 401, 404, 409, 413, 415)},
                   description="Import the course's roster (its TAs only): every problem is reported with its line "
                               "and then nothing is written; importing again changes nothing. New accounts get a "
                               "one-time set-password link.")
    def post(self, request, course_slug: str):
        course = course_for_staff(course_slug, request.user)
        data = self.Input(data=request.data)
        if not data.is_valid():
            raise ApplicationError("invalid_request", "Send the roster CSV as a multipart form field named 'file'.",
                                   details=data.errors)
        upload = data.validated_data["file"]
        if upload.size > roster.MAX_BYTES:  # before reading it into memory
            raise ApplicationError("roster_too_large", f"A roster CSV is at most {roster.MAX_BYTES >> 20} MB; check "
                                   "that this is the right file.")
        summary = roster.import_roster(course=course, data=upload.read(), dry_run=data.validated_data["dry_run"],
                                       relink=data.validated_data["relink"],
                                       base_url=request.build_absolute_uri("/").rstrip("/"))
        return Response(summary.as_dict())


class JoinCourseApi(APIView):
    @extend_schema_serializer(component_name="JoinRequest")
    class Input(serializers.Serializer):
        code = serializers.CharField(max_length=64, help_text="the course's join code, from its staff")

    @extend_schema(request=Input, responses={200: JOINED, **errors(400, 401, 404, 429)},
                   description="Join a course as a student with its join code. Joining twice changes nothing. "
                               "Too many wrong codes from one account or address answer 429 for a while.")
    def post(self, request):
        guard = JoinCodeGuard(request)
        if guard.is_blocked():
            return wrong_join_codes(request, guard.retry_after)
        data = self.Input(data=request.data)
        if not data.is_valid():
            raise ApplicationError("invalid_request", 'Send the join code as {"code": "..."}.', details=data.errors)
        try:
            membership, joined = services.join_with_code(user=request.user, code=data.validated_data["code"])
        except ApplicationError as e:
            if e.code == WRONG_CODE:
                guard.failed()
            raise
        course = membership.course
        return Response({"course": course.slug, "title": course.title, "role": membership.role, "joined": joined})
