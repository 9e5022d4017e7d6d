from django.urls import path

from . import views

app_name = "evaluation"

urlpatterns = [
    path("r/<str:token>/", views.rater_home, name="rater_home"),
    path("r/<str:token>/task/", views.rater_task, name="rater_task"),
    path("join/<str:open_token>/", views.open_link, name="open_link"),
    path("studies/", views.study_list, name="study_list"),
    path("studies/new/", views.study_builder, name="study_builder"),
    path("studies/<slug:name>/", views.study_detail, name="study_detail"),
    path("studies/<slug:name>/progress/", views.study_progress_fragment, name="study_progress"),
    path("studies/<slug:name>/status/", views.study_status, name="study_status"),
    path("studies/<slug:name>/preview/", views.study_preview, name="study_preview"),
    path("studies/<slug:name>/neurons/", views.neuron_lookup, name="neuron_lookup"),
    path("studies/<slug:name>/neurons/<str:layer>/<int:unit>/", views.neuron_detail, name="neuron_detail"),
    path("studies/<slug:name>/raters/<int:rater_id>/", views.rater_detail, name="rater_detail"),
    path("studies/<slug:name>/exclusions/", views.study_exclusion, name="study_exclusion"),
    path("studies/<slug:name>/policy/", views.study_policy, name="study_policy"),
    path("studies/<slug:name>/invite/", views.study_invite, name="study_invite"),
    path("studies/<slug:name>/open-link/", views.study_open_link, name="study_open_link"),
    path("studies/<slug:name>/responses.csv", views.study_responses_csv, name="study_responses_csv"),
]
