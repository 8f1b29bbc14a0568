from csp.decorators import csp_update
from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from basin.accounts import email_views
from basin.accounts import views as account_views
from basin.accounts.api import LogoutApi, MeApi, TokenApi, TokensApi
from basin.courses import join_views
from basin.courses import views as course_views
from basin.courses.api import CourseHomeworksApi
from basin.courses.dataset_api import HomeworkDatasetApi, HomeworkDatasetFileApi
from basin.courses.enrollment_api import CourseRosterApi, JoinCourseApi
from basin.grading import views as grading_views
from basin.health import health
from basin.leaderboard import views as leaderboard_views
from basin.leaderboard.api import LeaderboardApi
from basin.leaderboard.export import grades_csv_view
from basin.submissions import views as submission_views
from basin.submissions.api import (
    HomeworkDetailApi,
    HomeworkSelectionApi,
    HomeworkSubmissionsApi,
    SubmissionCancelApi,
    SubmissionDetailApi,
)
from basin.toolkit import views as toolkit_views

api = [
    path("api/auth/token/", TokenApi.as_view(), name="api-token"),
    path("api/auth/tokens/", TokensApi.as_view(), name="api-tokens"),
    path("api/auth/logout/", LogoutApi.as_view(), name="api-logout"),
    path("api/auth/me/", MeApi.as_view(), name="api-me"),
    path("api/courses/<slug:course_slug>/homeworks/", CourseHomeworksApi.as_view(), name="api-course-homeworks"),
    path("api/courses/join/", JoinCourseApi.as_view(), name="api-course-join"),
    path("api/courses/<slug:course_slug>/roster/", CourseRosterApi.as_view(), name="api-course-roster"),
    path("api/homeworks/<slug:slug>/", HomeworkDetailApi.as_view(), name="api-homework"),
    path("api/homeworks/<slug:slug>/dataset/", HomeworkDatasetApi.as_view(), name="api-homework-dataset"),
    path("api/homeworks/<slug:slug>/dataset/<path:name>", HomeworkDatasetFileApi.as_view(),
         name="api-homework-dataset-file"),
    path("api/homeworks/<slug:slug>/submissions/", HomeworkSubmissionsApi.as_view(), name="api-homework-submissions"),
    path("api/homeworks/<slug:slug>/selection/", HomeworkSelectionApi.as_view(), name="api-homework-selection"),
    path("api/homeworks/<slug:slug>/leaderboard/", LeaderboardApi.as_view(), name="api-leaderboard"),
    path("api/submissions/<int:submission_id>/", SubmissionDetailApi.as_view(), name="api-submission"),
    path("api/submissions/<int:submission_id>/cancel/", SubmissionCancelApi.as_view(), name="api-submission-cancel"),
    # The OpenAPI schema and its browsable docs: open to all, like the API's own error messages.
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file (?script): no inline script for the CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=[AllowAny],
                                                          template_name="basin/swagger_ui.html"), name="api-docs"),
]

# Plotly.js writes <style> elements and style attributes as it draws (without them its charts lose
# their layout). On the page that draws it, and only there, the policy allows inline styles: never
# inline scripts, and no eval (the 3D surfaces need none).
plotly_styles = csp_update({"style-src": ["'unsafe-inline'"]})

pages = [
    path("", leaderboard_views.home, name="home"),
    path("homeworks/<slug:slug>/", submission_views.homework, name="homework"),
    path("homeworks/<slug:slug>/starter.ipynb", course_views.starter_notebook, name="starter-notebook"),
    path("homeworks/<slug:slug>/leaderboard/", leaderboard_views.leaderboard, name="leaderboard"),
    # django-csp types its decorators for views of the request alone; this one also takes the URL's id
    path("submissions/<int:submission_id>/diagnostics/",
         plotly_styles(leaderboard_views.diagnostics),  # type: ignore[arg-type]
         name="diagnostics"),
    path("homeworks/<slug:slug>/grades.csv", grades_csv_view, name="grades-csv"),
    path("queue/", grading_views.queue, name="queue"),
    path("accounts/login/", account_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", account_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", join_views.signup, name="signup"),
    path("accounts/set-password/<uidb64>/<token>/", account_views.SetPasswordView.as_view(), name="set-password"),
    path("accounts/email/", email_views.email, name="account-email"),
    path("accounts/confirm-email/<str:token>/", email_views.confirm_email, name="confirm-email"),
    path("join/", join_views.join, name="join"),
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    # The student toolkit's package index (PEP 503), open to pip, which sends no session.
    path("simple/", toolkit_views.index, name="toolkit-index"),
    path("simple/<str:name>/", toolkit_views.project, name="toolkit-project"),
    path("simple/<str:name>/<str:filename>", toolkit_views.download, name="toolkit-file"),
    path("favicon.ico", lambda request: redirect(static("basin/favicon.svg"), permanent=True)),  # the admin links none
]

urlpatterns = api + pages

# Under /api/ every error Django answers itself is the API's JSON error shape (basin.errors).
handler400 = "basin.errors.bad_request"
handler404 = "basin.errors.page_not_found"
handler500 = "basin.errors.server_error"
