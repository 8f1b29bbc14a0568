from django.apps import AppConfig


class BasinConfig(AppConfig):
    """The project itself, first in INSTALLED_APPS: its ready() runs before any other app's, at every
    start of Basin, and makes the data directory's files (basin.local_files)."""

    name = "basin"
    label = "basin"
    verbose_name = "Basin"

    def ready(self) -> None:
        from django.conf import settings

        from . import local_files

        local_files.prepare(settings)
