"""System checks for rules across grading settings (`python manage.py check --deploy`)."""
from django.conf import settings
from django.core.checks import Error, register


@register("basin", deploy=True)
def sandbox_is_production_grade(app_configs, **kwargs):
    backend = settings.BASIN_SANDBOX_BACKEND
    if backend == "process":
        return [Error("BASIN_SANDBOX_BACKEND=process runs student code as a plain subprocess of the worker.",
                      hint="Set BASIN_SANDBOX_BACKEND=docker on grading workers with a Docker engine.",
                      id="basin.E001")]
    if backend == "auto":
        return [Error("BASIN_SANDBOX_BACKEND=auto falls back to the process sandbox when Docker is down.",
                        hint="Set BASIN_SANDBOX_BACKEND=docker in production.", id="basin.E003")]
    return []


@register("basin")
def broker_is_shared(app_configs, **kwargs):
    if settings.PRODUCTION and settings.CELERY_BROKER_URL == "filesystem://":
        return [Error("The embedded file broker only works when the web and every worker share one disk.",
                      hint="Set CELERY_BROKER_URL to a Redis URL in production.", id="basin.E002")]
    return []
