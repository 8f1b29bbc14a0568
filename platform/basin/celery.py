"""The Celery app. Tasks are thin: they take ids and call a service (basin.grading.services)."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basin.settings")

app = Celery("basin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
