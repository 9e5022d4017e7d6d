"""Prolific participants' pages, mounted at /prolific/ by config/urls.py."""
from django.urls import path

from . import views

app_name = "prolific"

urlpatterns = [
    path("<int:publication_id>/start/", views.start, name="start"),
    path("session/<str:session_id>/", views.task, name="task"),
    path("session/<str:session_id>/done/", views.done, name="done"),
]
