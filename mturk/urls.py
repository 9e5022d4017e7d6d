from django.urls import path

from . import views

app_name = "mturk"

urlpatterns = [
    path("task/<str:hit_token>/", views.mturk_task, name="task"),
    path("prolific/<int:publication_id>/start/", views.prolific_start, name="prolific_start"),
    path("prolific/session/<str:session_id>/", views.prolific_task, name="prolific_task"),
    path("prolific/session/<str:session_id>/done/", views.prolific_done, name="prolific_done"),
    path("studies/<slug:name>/", views.study_status_page, name="study_status"),
]
