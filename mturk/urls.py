from django.urls import path

app_name = "mturk"

urlpatterns: list = []
