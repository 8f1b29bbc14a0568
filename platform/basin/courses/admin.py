"""The admin, scoped per course. A superuser sees everything; a TA (a staff user with a TA
membership) sees and acts on the courses they TA, their homeworks, memberships and submissions,
through get_queryset and the has_*_permission methods: no Django model permission is needed, and
one granted by mistake opens nothing else. Students and TAs of other courses get nothing."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from basin.errors import ApplicationError

from . import services
from .access import staff_course_ids
from .models import Course, DatasetVersion, Homework, Membership, new_join_code


def ta_course_ids(request) -> frozenset[int]:
    """The courses this request's user TAs (empty for a user who may not use the admin); one query
    per request, kept on it."""
    cached = getattr(request, "_basin_ta_course_ids", None)
    if cached is None:
        user = request.user
        cached = frozenset()
        if user.is_authenticated and user.is_active and user.is_staff:
            cached = frozenset(staff_course_ids(user))
        request._basin_ta_course_ids = cached
    return cached


def is_superuser(request) -> bool:
    return request.user.is_active and request.user.is_superuser


def may_run_course(request, course_id: int | None = None) -> bool:
    """A superuser may, anywhere; a TA, in the courses they TA (course_id None: in any of them)."""
    if is_superuser(request):
        return True
    courses = ta_course_ids(request)
    return bool(courses) if course_id is None else course_id in courses


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class CourseScopedAdmin(admin.ModelAdmin):
    """Rows of the courses the user runs. `course_lookup` leads from the model to its course;
    `course_id_of` reads it from a row."""

    course_lookup = "course"

    def course_id_of(self, obj) -> int:
        return obj.course_id

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if is_superuser(request):
            return qs
        return qs.filter(**{f"{self.course_lookup}__in": ta_course_ids(request)})

    def _may(self, request, obj=None) -> bool:
        return may_run_course(request, None if obj is None else self.course_id_of(obj))

    def has_module_permission(self, request) -> bool:
        return may_run_course(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._may(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._may(request, obj)

    def has_add_permission(self, request) -> bool:
        return may_run_course(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._may(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # A TA files rows only under their own courses.
        if db_field.name == "course" and not is_superuser(request):
            kwargs["queryset"] = Course.objects.filter(pk__in=ta_course_ids(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class MembershipForm(forms.ModelForm):
    """The user is named by username: a TA adding a student sees no list of everyone's accounts."""

    user = forms.ModelChoiceField(queryset=get_user_model().objects.all(), to_field_name="username",
                                  widget=forms.TextInput, help_text="the person's username")

    class Meta:
        model = Membership
        fields = ["course", "user", "role", "student_id", "pseudonym"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["user"] = self.instance.user.get_username()

    def clean_pseudonym(self) -> str:
        """Left empty, a new member gets one drawn like every other (services.draw_pseudonym)."""
        pseudonym = self.cleaned_data.get("pseudonym", "")
        course = self.cleaned_data.get("course") or getattr(self.instance, "course", None)
        if not pseudonym and course is not None:
            pseudonym = services.draw_pseudonym(course.pk)
        return pseudonym


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    fields = ["user", "role", "student_id", "pseudonym"]
    extra = 0

    def _may(self, request, obj=None) -> bool:  # obj: the course
        return may_run_course(request, None if obj is None else obj.pk)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._may(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._may(request, obj)

    def has_add_permission(self, request, obj=None) -> bool:
        return self._may(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._may(request, obj)


@admin.register(Course)
class CourseAdmin(CourseScopedAdmin):
    course_lookup = "pk"
    list_display = ["slug", "title", "join_code", "created_at"]
    search_fields = ["slug", "title"]
    inlines = [MembershipInline]

    def course_id_of(self, obj) -> int:
        return obj.pk

    actions = ["new_join_code", "close_joining"]

    def has_add_permission(self, request) -> bool:
        return is_superuser(request)  # a new course has no TA yet: the superuser enrolls its first

    def has_delete_permission(self, request, obj=None) -> bool:
        return is_superuser(request)

    def get_readonly_fields(self, request, obj=None):
        # Who reads the hidden pass's logs is the course owner's call, not a TA's (who would grant it to themselves).
        return [] if is_superuser(request) else ["hidden_log_readers"]

    @admin.action(description="Give a new join code (the old one stops working)")
    def new_join_code(self, request, queryset):
        for course in queryset:
            course.join_code = new_join_code()
            course.save(update_fields=["join_code"])
            self.message_user(request, f"{course.slug}: students join with {course.join_code}")

    @admin.action(description="Close joining by code (roster only)")
    def close_joining(self, request, queryset):
        closed = queryset.exclude(join_code="").update(join_code="")
        self.message_user(request, f"Joining by code closed for {closed} course(s).")


@admin.register(Membership)
class MembershipAdmin(CourseScopedAdmin):
    form = MembershipForm
    list_display = ["user", "course", "role", "student_id", "pseudonym"]
    list_filter = [("course", admin.RelatedOnlyFieldListFilter), "role"]
    list_select_related = ["user", "course"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "student_id", "pseudonym"]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    """Shared by every course: TAs read them (a homework picks one); superusers register them."""

    list_display = ["slug", "seed", "created_at"]
    readonly_fields = ["manifest"]

    def has_module_permission(self, request) -> bool:
        return may_run_course(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return may_run_course(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return is_superuser(request)

    def has_add_permission(self, request) -> bool:
        return is_superuser(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return is_superuser(request)


@admin.register(Homework)
class HomeworkAdmin(CourseScopedAdmin):
    list_display = ["slug", "title", "course", "opens_at", "deadline", "diagnostics_enabled", "private_revealed_at",
                    "grades"]
    list_filter = [("course", admin.RelatedOnlyFieldListFilter), "diagnostics_enabled"]
    list_select_related = ["course"]
    search_fields = ["slug", "title"]
    actions = ["reveal_private_leaderboard"]

    def get_readonly_fields(self, request, obj=None):
        # The reveal is the action's (it checks that submissions have closed), never a typed date.
        readonly = ["private_revealed_at"]
        if obj is not None:
            readonly.append("course")
            if obj.submissions.exists():  # scored against this version: basin.courses.services.use_dataset_version
                readonly.append("dataset")
            if obj.private_revealed_at is not None:
                # Reopening a revealed homework would let students probe a private split everyone can see.
                readonly += ["opens_at", "deadline", "late_policy", "late_until", "late_penalty_percent",
                             "final_selections"]
        return readonly

    def has_delete_permission(self, request, obj=None) -> bool:
        return is_superuser(request)  # it takes every submission with it

    @admin.display(description="grades")
    def grades(self, homework: Homework):
        if not homework.private_is_revealed:
            return "after the reveal"
        return format_html('<a href="{}">{}-grades.csv</a>',
                           reverse("grades-csv", kwargs={"slug": homework.slug}), homework.slug)

    @admin.action(description="Reveal the private leaderboard")
    def reveal_private_leaderboard(self, request, queryset):
        revealed, skipped = [], []
        now = timezone.now()
        for homework in queryset.order_by("slug"):
            if homework.private_revealed_at is not None:
                when = homework.private_revealed_at.isoformat(timespec="minutes")
                skipped.append(f"{homework.slug}: already revealed at {when}" if homework.private_revealed_at <= now
                               else f"{homework.slug}: a reveal is set for {when}")
                continue
            try:
                services.reveal_private(homework=homework)
            except ApplicationError as e:
                skipped.append(f"{homework.slug}: {e.message}")
                continue
            self.log_change(request, homework, "Revealed the private leaderboard.")
            revealed.append(homework.slug)
        if revealed:
            self.message_user(request, f"Revealed the private leaderboard of {', '.join(revealed)}; grades can be "
                                       "exported now.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Skipped {plural(len(skipped), 'homework')}: " + "; ".join(skipped),
                              messages.WARNING)
