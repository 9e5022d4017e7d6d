from django.urls import path

from analysis import views

app_name = "analysis"

urlpatterns = [
    path("studies/<slug:name>/plots/<slug:plot>.<str:fmt>", views.study_plot, name="study-plot"),
    path("studies/<slug:name>/comparison.<str:fmt>", views.study_table, name="study-table"),
]
