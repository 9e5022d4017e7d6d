from django.urls import path

from analysis import views

app_name = "analysis"

urlpatterns = [
    path("studies/<slug:name>/plots/<slug:plot>.<str:fmt>", views.study_plot, name="study-plot"),
    path("studies/<slug:name>/comparison.<str:fmt>", views.study_table, name="study-table"),
    path("studies/<slug:name>/results/", views.study_results_panel, name="study-results-panel"),
    path("studies/<slug:name>/files/<str:file>", views.study_result, name="study-result"),
]
