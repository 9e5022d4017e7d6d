from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from . import pages
from .views import analysis, catalog, studies

app_name = "api"

router = SimpleRouter()
router.register("networks", catalog.NetworkViewSet, basename="network")
router.register("probes", catalog.ProbeDatasetViewSet, basename="probe")
router.register("methods", catalog.MethodViewSet, basename="method")
router.register("explanations", catalog.ExplanationViewSet, basename="explanation")
router.register("jobs", catalog.JobViewSet, basename="job")

STUDY = "v1/studies/<slug:name>/"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI's start-up script as a file of its own (no inline script under the content security policy).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema", template_name="api/swagger_ui.html"),
         name="docs"),
    path("tokens/", pages.token_list, name="tokens"),
    path("tokens/<int:pk>/revoke/", pages.token_revoke, name="token-revoke"),
    path("v1/studies/", studies.StudyListView.as_view(), name="study-list"),
    path("v1/study-imports/", studies.StudyImportView.as_view(), name="study-import"),
    path(STUDY, studies.StudyDetailView.as_view(), name="study-detail"),
    path(STUDY + "progress/", studies.StudyProgressView.as_view(), name="study-progress"),
    path(STUDY + "invites/", studies.InviteView.as_view(), name="study-invites"),
    path(STUDY + "responses/", studies.ResponseListView.as_view(), name="study-responses"),
    path(STUDY + "ratings/", studies.RatingsView.as_view(), name="study-ratings"),
    path(STUDY + "comparison/", analysis.ComparisonView.as_view(), name="study-comparison"),
    path(STUDY + "pairwise/", analysis.PairwiseView.as_view(), name="study-pairwise"),
    path(STUDY + "agreement/", analysis.AgreementView.as_view(), name="study-agreement"),
    path("v1/", include(router.urls)),
]
