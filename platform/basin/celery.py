"""The Celery app. Tasks are thin: they take ids and call a service (basin.grading.services)."""
import logging
import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basin.settings")

app = Celery("basin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def log_like_the_web(loglevel=None, **kwargs):
    """A worker logs through settings.LOGGING, like the web (BASIN_LOG_FORMAT text or json, the ids
    of basin.logs), not through Celery's own handlers and formats; its --loglevel still sets the
    level, as Celery's own set-up would."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)
