from django.apps import AppConfig


class SubmissionsConfig(AppConfig):
    name = "basin.submissions"
    label = "submissions"
