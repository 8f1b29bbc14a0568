from django.contrib import admin

from .models import Course, DatasetVersion, Homework, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["slug", "title", "created_at"]
    search_fields = ["slug", "title"]
    inlines = [MembershipInline]


@admin.register(Homework)
class HomeworkAdmin(admin.ModelAdmin):
    list_display = ["slug", "title", "course", "opens_at", "deadline", "diagnostics_enabled", "private_revealed_at"]
    list_filter = ["course", "diagnostics_enabled"]
    search_fields = ["slug", "title"]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    list_display = ["slug", "seed", "created_at"]
    readonly_fields = ["manifest"]
