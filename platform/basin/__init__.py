"""Basin's Django project (settings, urls, the Celery app) and its apps."""
from .celery import app as celery_app

__all__ = ["celery_app"]
