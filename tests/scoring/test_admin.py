"""Every scoring model has a working admin page."""
import pytest
from django.contrib.auth.models import User


@pytest.mark.django_db
def test_scoring_admin_pages_list(client):
    client.force_login(User.objects.create_superuser("admin", "a@example.org", "pw"))
    for model in ("simulationscore", "metricscore", "ablationresult"):
        assert client.get(f"/admin/scoring/{model}/").status_code == 200
