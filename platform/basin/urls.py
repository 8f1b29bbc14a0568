from django.contrib import admin
from django.urls import path

from basin.accounts.api import TokenApi
from basin.courses.api import CourseHomeworksApi, HomeworkDetailApi
from basin.courses.dataset_api import HomeworkDatasetApi, HomeworkDatasetFileApi
from basin.leaderboard import views as leaderboard_views
from basin.leaderboard.api import LeaderboardApi
from basin.submissions.api import HomeworkSelectionApi, HomeworkSubmissionsApi, SubmissionDetailApi

api = [
    path("api/auth/token/", TokenApi.as_view(), name="api-token"),
    path("api/courses/<slug:course_slug>/homeworks/", CourseHomeworksApi.as_view(), name="api-course-homeworks"),
    path("api/homeworks/<slug:slug>/", HomeworkDetailApi.as_view(), name="api-homework"),
    path("api/homeworks/<slug:slug>/dataset/", HomeworkDatasetApi.as_view(), name="api-homework-dataset"),
    path("api/homeworks/<slug:slug>/dataset/<path:name>", HomeworkDatasetFileApi.as_view(),
         name="api-homework-dataset-file"),
    path("api/homeworks/<slug:slug>/submissions/", HomeworkSubmissionsApi.as_view(), name="api-homework-submissions"),
    path("api/homeworks/<slug:slug>/selection/", HomeworkSelectionApi.as_view(), name="api-homework-selection"),
    path("api/homeworks/<slug:slug>/leaderboard/", LeaderboardApi.as_view(), name="api-leaderboard"),
    path("api/submissions/<int:submission_id>/", SubmissionDetailApi.as_view(), name="api-submission"),
]

pages = [
    path("", leaderboard_views.home, name="home"),
    path("homeworks/<slug:slug>/leaderboard/", leaderboard_views.leaderboard, name="leaderboard"),
    path("submissions/<int:submission_id>/diagnostics/", leaderboard_views.diagnostics, name="diagnostics"),
    path("admin/", admin.site.urls),
]

urlpatterns = api + pages
