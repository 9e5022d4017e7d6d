from django.urls import path

from explain import views

app_name = "explain"

urlpatterns: list = [
    path("jobs/<int:pk>/", views.job_detail, name="job-detail"),
]
