from django.apps import AppConfig


class GradingConfig(AppConfig):
    name = "basin.grading"
    label = "grading"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
