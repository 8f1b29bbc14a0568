from django.apps import AppConfig


class GradingConfig(AppConfig):
    name = "basin.grading"
    label = "grading"
