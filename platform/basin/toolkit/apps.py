from django.apps import AppConfig


class ToolkitConfig(AppConfig):
    name = "basin.toolkit"
    verbose_name = "Student toolkit"
