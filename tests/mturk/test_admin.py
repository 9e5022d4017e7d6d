"""The admin's change form cannot break the rule that a sent design is frozen."""
import json
from decimal import Decimal

import pytest

from mturk.models import MTurkDesign, Publication
from mturk.publications import freeze_design, open_publication

pytestmark = pytest.mark.crowd


def change_form(publication, design, **changes):
    """What the admin's change form posts for an MTurk publication and its HIT design inline."""
    data = {
        "study": publication.study_id, "provider": publication.provider, "title": publication.title,
        "description": publication.description, "reward": str(publication.reward),
        "invalid_policy": publication.invalid_policy, "reject_message": publication.reject_message,
        "mturk_design-TOTAL_FORMS": "1", "mturk_design-INITIAL_FORMS": "1",
        "mturk_design-MIN_NUM_FORMS": "0", "mturk_design-MAX_NUM_FORMS": "1",
        "mturk_design-0-publication": publication.pk, "mturk_design-0-keywords": design.keywords,
        "mturk_design-0-assignment_duration_seconds": design.assignment_duration_seconds,
        "mturk_design-0-lifetime_seconds": design.lifetime_seconds,
        "mturk_design-0-auto_approval_delay_seconds": design.auto_approval_delay_seconds,
        "mturk_design-0-frame_height": design.frame_height,
        "mturk_design-0-qualifications": json.dumps(design.qualifications),
    }
    data.update(changes)
    return data


@pytest.mark.django_db
def test_the_admin_changes_an_unsent_design(admin_client, crowd_study):
    publication = open_publication(crowd_study, "mturk")
    design = MTurkDesign.objects.get(pk=publication.pk)
    url = f"/admin/mturk/publication/{publication.pk}/change/"

    answer = admin_client.post(url, change_form(publication, design, reward="0.12", **{"mturk_design-0-frame_height": "640"}))

    assert answer.status_code == 302
    assert Publication.objects.get().reward == Decimal("0.12") and MTurkDesign.objects.get().frame_height == 640


@pytest.mark.django_db
def test_the_admin_form_refuses_to_change_a_sent_design_and_says_why(admin_client, crowd_study):
    publication = open_publication(crowd_study, "mturk")
    freeze_design(publication)
    design = MTurkDesign.objects.get(pk=publication.pk)
    url = f"/admin/mturk/publication/{publication.pk}/change/"

    page = admin_client.post(url, change_form(publication, design, reward="0.50"))
    inline_page = admin_client.post(url, change_form(publication, design, **{"mturk_design-0-frame_height": "640"}))

    assert page.status_code == 200 and "its design is frozen" in page.content.decode()
    assert inline_page.status_code == 200 and "its design is frozen" in inline_page.content.decode()
    assert Publication.objects.get().reward == Decimal("0.08") and MTurkDesign.objects.get().frame_height == 0
    # Clearing the sent mark is not offered either (it is read-only), so the rule cannot be switched off.
    assert 'name="published_at"' not in admin_client.get(url).content.decode()


@pytest.mark.django_db
def test_a_staff_researcher_sees_only_the_crowd_rows_of_their_studies(crowd_study, django_user_model):
    from django.contrib.auth.models import Permission
    from django.test import Client

    from evaluation.services import create_study
    from mturk.models import CrowdAssignment, LedgerEntry
    from tests.evaluation.conftest import METHOD_NAMES

    alice = django_user_model.objects.create_user("alice", password="pw-for-tests", is_staff=True)
    alice.user_permissions.set(Permission.objects.filter(content_type__app_label="mturk", codename__startswith="view_"))
    alices_study = create_study("alices", network=crowd_study.network, methods=METHOD_NAMES, layers=["layer1"],
                                per_layer=2, seed=0, owner=alice)
    rows = {}
    for study, worker in ((alices_study, "ALICEWORKER"), (crowd_study, "OTHERWORKER")):
        publication = open_publication(study, "mturk")
        CrowdAssignment.objects.create(publication=publication, external_id=f"A-{worker}", worker_id=worker,
                                       provider_status="Submitted")
        LedgerEntry.objects.create(publication=publication, key=f"key-{worker}", operation="CreateHIT")
        rows[worker] = publication
    LedgerEntry.objects.create(key="key-NOPUBLICATION", operation="GetAccountBalance")
    client = Client()
    client.force_login(alice)

    pages = {model: client.get(f"/admin/mturk/{model}/") for model in ("publication", "crowdassignment", "ledgerentry")}

    assert all(page.status_code == 200 for page in pages.values())
    assert "1 publication" in pages["publication"].content.decode()
    assert "key-ALICEWORKER" in pages["ledgerentry"].content.decode()
    assert all("OTHERWORKER" not in page.content.decode() and "NOPUBLICATION" not in page.content.decode()
               for page in pages.values())
    assert "ALICEWORKER" in pages["crowdassignment"].content.decode()
    assert client.get(f"/admin/mturk/publication/{rows['OTHERWORKER'].pk}/change/").status_code == 302
    root = Client()
    root.force_login(django_user_model.objects.create_superuser("root", "root@example.org", "pw-for-tests"))
    assert "NOPUBLICATION" in root.get("/admin/mturk/ledgerentry/").content.decode()
