from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "basin.demo"
    label = "demo"
    verbose_name = "Demo seeding"
