"""MTurk's worker frame page and the researchers' crowd status page, mounted at /mturk/."""
from django.urls import path

from . import views
from .providers.mturk import views as mturk_views

app_name = "mturk"

urlpatterns = [
    path("task/<str:hit_token>/", mturk_views.mturk_task, name="task"),
    path("studies/<slug:name>/", views.study_status_page, name="study_status"),
]
