from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "basin.courses"
    label = "courses"
