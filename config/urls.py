from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/studies/", permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("explain/", include("explain.urls")),
    path("", include("evaluation.urls")),
    path("mturk/", include("mturk.urls")),
    path("prolific/", include("mturk.providers.prolific.urls")),
    path("analysis/", include("analysis.urls")),
    path("api/", include("api.urls")),
]

handler404 = "api.problems.not_found"
handler500 = "api.problems.server_error"

if settings.MEDIA_STORAGE == "local":
    from config.media import serve_image

    # The embedded default serves probing images itself (images only: masks stay private);
    # with S3 they come from the bucket (presigned URLs unless AWS_QUERYSTRING_AUTH=0).
    urlpatterns += [path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", serve_image)]
