"""Celery app. Workers: `celery -A config worker -Q default` and, on GPU nodes,
`celery -A config worker -Q gpu --concurrency 1`."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("neuroneval")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
