"""The registry: one interface for every provider, found by name; the status page and the commands use only it."""
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from mturk.models import CrowdAssignment, Hit, HitAssignment, LedgerEntry, Publication
from mturk.providers import get_provider, provider_class, provider_names
from mturk.providers.base import OPERATIONS, CrowdProvider, UnsupportedOperation
from mturk.providers.local.provider import LocalProvider
from mturk.status import study_status_html

pytestmark = pytest.mark.crowd


@pytest.mark.django_db
def test_every_provider_is_behind_the_same_interface(crowd_study, monkeypatch):
    monkeypatch.setenv("PROLIFIC_API_TOKEN", "test-token")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    kinds = {}
    for provider in Publication.Provider.values:
        publication = Publication.objects.create(study=crowd_study, provider=provider)
        kinds[provider] = get_provider(publication)
    assert all(isinstance(p, CrowdProvider) for p in kinds.values())
    assert {name: p.name for name, p in kinds.items()} == {"local": "local", "mturk": "mturk", "prolific": "prolific"}


@pytest.mark.django_db
def test_local_volunteers_get_personal_links_and_cost_nothing(crowd_study):
    provider = LocalProvider(Publication.objects.create(study=crowd_study, provider="local"), rater_count=2)

    report = provider.publish()

    assert [a.verb for a in report.actions] == ["invited rater", "invited rater"]
    assert all(a.target.startswith("https://ratings.example.org/r/") for a in report.actions)
    assert crowd_study.raters.count() == 2
    assert provider.estimate().total == 0


@pytest.mark.django_db
def test_status_fragment_and_page_show_hits_and_spend(client, admin_user, publication):
    hit = Hit.objects.create(
        publication=publication, study_neuron=publication.study.study_neurons.first(), request_token="ne-x",
        hit_id="3NEURONHIT00000000000000000000", max_assignments=3, status="published", assignments_available=1,
        assignments_pending=1,
    )
    # One approved by us, one auto-approved by MTurk, one waiting: $0.08 + $0.02 fee for each approved.
    for n, status in enumerate(["Approved", "Approved", "Submitted"]):
        record = CrowdAssignment.objects.create(publication=publication, external_id=f"A{n}", worker_id=f"W{n}", provider_status=status)
        HitAssignment.objects.create(assignment=record, hit=hit)
    LedgerEntry.objects.create(publication=publication, key="a", operation="SendBonus", amount="0.30", state="done")
    LedgerEntry.objects.create(publication=publication, key="b", operation="ApproveAssignment", amount="0.10", state="pending")

    fragment = study_status_html(publication.study)

    assert "<td>3NEURONHIT00000000000000000000</td>" in fragment
    assert "<td>1</td><td>1</td>\n              <td>1</td><td>2</td><td>0</td>" in fragment
    assert "Spend so far: $0.50" in fragment
    assert "1 call(s) with an unknown outcome" in fragment
    assert client.get("/mturk/studies/crowd/").status_code == 302  # researchers only
    client.force_login(admin_user)
    assert "Spend so far: $0.50" in client.get("/mturk/studies/crowd/").content.decode()


@pytest.mark.django_db
def test_prolific_command_reports_a_missing_token_clearly(crowd_study, monkeypatch):
    monkeypatch.delenv("PROLIFIC_API_TOKEN", raising=False)
    with pytest.raises(CommandError, match="PROLIFIC_API_TOKEN is not set"):
        call_command("prolific", "estimate", "--study", "crowd", stdout=StringIO())


def test_every_provider_value_is_registered_once_and_unknown_names_list_the_known():
    assert provider_names() == sorted(Publication.Provider.values)
    with pytest.raises(LookupError, match="no crowd provider 'mechanical-horse'; known: local, mturk, prolific"):
        provider_class("mechanical-horse")


@pytest.mark.parametrize("name", Publication.Provider.values)
def test_a_provider_implements_exactly_the_operations_it_declares(name):
    provider_type = provider_class(name)
    assert provider_type.operations <= set(OPERATIONS)
    for operation in OPERATIONS:
        implemented = getattr(provider_type, operation) is not getattr(CrowdProvider, operation)
        assert implemented == (operation in provider_type.operations), operation


@pytest.mark.django_db
def test_an_operation_a_provider_lacks_is_refused_by_name(crowd_study, monkeypatch):
    monkeypatch.setenv("PROLIFIC_API_TOKEN", "test-token")
    provider = get_provider(Publication.objects.create(study=crowd_study, provider="prolific"))
    with pytest.raises(UnsupportedOperation, match="Prolific has no 'expire' operation .*draft, publish, harvest"):
        provider.expire()


@pytest.mark.parametrize("command, provider", [("mturk", "mturk"), ("prolific", "prolific")])
def test_each_command_offers_its_providers_operations(command, provider):
    from django.core.management import load_command_class

    parser = load_command_class("mturk", command).create_parser("manage.py", command)
    action = next(a for a in parser._actions if a.dest == "action")
    operations = {"top_up" if choice == "topup" else choice for choice in action.choices} - {"pay", "status"}
    assert operations == set(provider_class(provider).operations)
