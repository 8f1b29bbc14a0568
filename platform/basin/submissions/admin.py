from django.contrib import admin

from .models import Submission


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["id", "homework", "user", "is_baseline", "status", "verdict", "public_score", "diagnostics_status",
                    "created_at"]
    list_filter = ["homework", "status", "verdict", "is_baseline", "diagnostics_status"]
    search_fields = ["user__username", "original_name", "sha256"]
    readonly_fields = ["sha256", "size", "kind", "scores", "timings", "log_tail", "attempts", "lease_expires_at",
                       "created_at", "started_at", "finished_at", "diagnostics", "model_diagnostics",
                       "diagnostics_status", "diagnostics_attempts", "diagnostics_lease_expires_at",
                       "diagnostics_enqueued_at"]
