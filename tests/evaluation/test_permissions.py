"""A researcher sees and changes only the studies they own or collaborate on; superusers see every study."""
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from evaluation.models import Rater
from evaluation.permissions import can_change_study, can_view_study, studies_visible_to
from evaluation.services import create_study, invite_raters

from .conftest import METHOD_NAMES

pytestmark = pytest.mark.django_db

User = get_user_model()


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice(db):
    return User.objects.create_user("alice", password="pw-for-tests")


@pytest.fixture
def bob(db):
    return User.objects.create_user("bob", password="pw-for-tests")


@pytest.fixture
def alices_study(explained_network, alice):
    return create_study("alices", network=explained_network, methods=METHOD_NAMES, per_layer=2, owner=alice)


@pytest.fixture
def bobs_study(explained_network, bob):
    return create_study("bobs", network=explained_network, methods=METHOD_NAMES, per_layer=2, owner=bob)


def test_visibility_rules(alice, bob, alices_study, bobs_study, explained_network):
    legacy = create_study("legacy", network=explained_network, methods=METHOD_NAMES, per_layer=1)
    root = User.objects.create_superuser("root", "root@example.org", "pw-for-tests")
    assert list(studies_visible_to(alice)) == [alices_study]
    assert set(studies_visible_to(root)) == {alices_study, bobs_study, legacy}
    assert not can_view_study(alice, bobs_study) and not can_change_study(alice, bobs_study)
    assert not can_view_study(alice, legacy)
    bobs_study.collaborators.add(alice)
    assert set(studies_visible_to(alice)) == {alices_study, bobs_study}
    assert can_view_study(alice, bobs_study) and can_change_study(alice, bobs_study)
    alice.is_active = False
    assert not can_view_study(alice, alices_study) and not studies_visible_to(alice).exists()


STUDY_PAGES = [
    ("evaluation:study_detail", "GET"),
    ("evaluation:study_responses_csv", "GET"),
    ("evaluation:study_invite", "POST"),
    ("evaluation:study_open_link", "POST"),
]
ANALYSIS_DOWNLOADS = ["/analysis/studies/{}/comparison.csv", "/analysis/studies/{}/comparison.latex",
                      "/analysis/studies/{}/plots/mean_rating.png", "/analysis/studies/{}/files/pairwise.csv",
                      "/analysis/studies/{}/files/agreement.json", "/analysis/studies/{}/files/responses.csv",
                      "/analysis/studies/{}/results/"]


@pytest.mark.parametrize("name,method", STUDY_PAGES)
def test_another_researchers_study_pages_are_404_and_change_nothing(alice, bobs_study, name, method):
    client = logged_in(alice)
    url = reverse(name, args=[bobs_study.name])
    response = client.get(url) if method == "GET" else client.post(url, {"count": "2"})
    assert response.status_code == 404
    assert bobs_study.raters.count() == 0
    bobs_study.refresh_from_db()
    assert bobs_study.open_link_token is None


@pytest.mark.parametrize("url", ANALYSIS_DOWNLOADS)
def test_another_researchers_downloads_are_404(alice, bob, bobs_study, url):
    assert logged_in(alice).get(url.format(bobs_study.name)).status_code == 404
    # The owner gets past the permission check (404 only for a plot with no data yet).
    assert logged_in(bob).get(url.format(bobs_study.name)).status_code in (200, 404)
    if url.endswith((".csv", ".json", "/")):
        assert logged_in(bob).get(url.format(bobs_study.name)).status_code == 200


def test_study_list_shows_only_own_and_shared_studies(alice, bob, alices_study, bobs_study):
    page = logged_in(alice).get(reverse("evaluation:study_list")).content.decode()
    assert "alices" in page and "bobs" not in page
    bobs_study.collaborators.add(alice)
    page = logged_in(alice).get(reverse("evaluation:study_list")).content.decode()
    assert "bobs" in page


def test_owner_and_collaborator_can_invite(alice, bob, bobs_study):
    assert logged_in(bob).post(reverse("evaluation:study_invite", args=["bobs"]), {"count": "1"}).status_code == 302
    bobs_study.collaborators.add(alice)
    assert logged_in(alice).post(reverse("evaluation:study_invite", args=["bobs"]), {"count": "2"}).status_code == 302
    assert Rater.objects.filter(study=bobs_study).count() == 3


@pytest.mark.parametrize("role", ["collaborator", "superuser"])
def test_collaborators_and_superusers_see_and_change_every_page_of_the_study(alice, bob, bobs_study, role):
    from evaluation.models import Exclusion, Study

    from .test_researcher_pages import play

    helper = alice if role == "collaborator" else User.objects.create_superuser("root", "root@example.org", "pw-for-tests")
    if role == "collaborator":
        bobs_study.collaborators.add(alice)
    client = logged_in(helper)
    rater = invite_raters(bobs_study, 1)[0]
    play(rater)
    neuron = rater.responses.get().study_neuron.neuron
    name = bobs_study.name
    for url in [reverse("evaluation:study_detail", args=[name]), reverse("evaluation:study_progress", args=[name]),
                reverse("evaluation:study_preview", args=[name]), reverse("evaluation:rater_detail", args=[name, rater.pk]),
                reverse("evaluation:neuron_detail", args=[name, neuron.layer.name, neuron.unit]),
                reverse("evaluation:study_responses_csv", args=[name])]:
        assert client.get(url).status_code == 200, url
    lookup = client.get(reverse("evaluation:neuron_lookup", args=[name]), {"layer": neuron.layer.name, "unit": neuron.unit})
    assert lookup["Location"] == reverse("evaluation:neuron_detail", args=[name, neuron.layer.name, neuron.unit])
    client.post(reverse("evaluation:study_status", args=[name]), {"status": "paused"})
    client.post(reverse("evaluation:study_exclusion", args=[name]), {"target": f"rater:{rater.pk}", "action": "exclude",
                                                                     "reason": "checked by a colleague"})
    client.post(reverse("evaluation:study_policy", args=[name]), {"exclusion_policy": "invalid_rate > 0.5"})
    client.post(reverse("evaluation:study_open_link", args=[name]))
    bobs_study.refresh_from_db()
    assert bobs_study.status == Study.Status.PAUSED and bobs_study.exclusion_policy == "invalid_rate > 0.5"
    assert bobs_study.open_link_token and Exclusion.objects.get(study=bobs_study).created_by == helper


ADMIN_LISTS = ["study", "rater", "response", "exclusion", "studyneuron", "studyimage", "studyitem", "assignment", "slot"]


def test_a_staff_researcher_sees_only_their_studies_rows_in_the_admin(alice, bob, alices_study, bobs_study):
    from django.contrib.auth.models import Permission

    from evaluation.models import Exclusion, Study, StudyItem
    from evaluation.services import exclude

    from .test_researcher_pages import play

    for study in (alices_study, bobs_study):
        study.status = "open"
        study.save()
        rater = invite_raters(study, 1)[0]
        play(rater)
        exclude(study, rater=rater, reason=f"note on {study.name}", by=study.owner)
    alice.is_staff = True
    alice.save()
    alice.user_permissions.set(Permission.objects.filter(content_type__app_label="evaluation", codename__startswith="view_"))
    client = logged_in(alice)
    for model in ADMIN_LISTS:
        listing = client.get(f"/admin/evaluation/{model}/")
        assert listing.status_code == 200, model
        page = listing.content.decode()
        assert "bobs" not in page and "note on bobs" not in page, model
        assert "alices" in page or model in ("studyimage", "studyitem", "slot"), model
    bobs_item = bobs_study.study_neurons.first().items.first()
    assert client.get(f"/admin/evaluation/studyitem/{bobs_item.pk}/change/").status_code == 302  # "doesn't exist"
    assert client.get(f"/admin/evaluation/response/{bobs_study.responses.get().pk}/change/").status_code == 302
    alices_items = StudyItem.objects.filter(study_neuron__study=alices_study).count()
    assert f"{alices_items} study items" in client.get("/admin/evaluation/studyitem/").content.decode()
    assert StudyItem.objects.count() == 2 * alices_items
    root = logged_in(User.objects.create_superuser("root", "root@example.org", "pw-for-tests"))
    assert "note on bobs" in root.get("/admin/evaluation/exclusion/").content.decode()
    assert Exclusion.objects.count() == 2 and Study.objects.count() == 2
