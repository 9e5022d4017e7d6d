"""The `mturk` management command: estimate, production confirmation, clear errors."""
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from evaluation.models import Study, StudyNeuron
from explain.models import Layer, Neuron
from mturk.providers.mturk.fees import estimate_mturk_cost, mturk_assignment_fee
from mturk.models import Hit, Publication

pytestmark = pytest.mark.crowd


def test_fee_is_20_percent_plus_20_for_big_hits_with_a_cent_minimum():
    assert mturk_assignment_fee(Decimal("0.08"), 3) == Decimal("0.02")  # 0.016 rounds half up
    assert mturk_assignment_fee(Decimal("1.00"), 9) == Decimal("0.20")
    assert mturk_assignment_fee(Decimal("1.00"), 10) == Decimal("0.40")
    assert mturk_assignment_fee(Decimal("0.01"), 3) == Decimal("0.01")  # minimum per assignment


def test_reference_study_estimate():
    estimate = estimate_mturk_cost(800, 3, Decimal("0.08"), valid_rate=1744 / 2400)
    assert estimate.reward_total == Decimal("192.00")
    assert estimate.fee_total == Decimal("48.00")
    assert estimate.total == Decimal("240.00")
    assert estimate.cost_per_valid_response == Decimal("0.14")


@pytest.fixture
def reference_sized_study(crowd_study):
    """800 neurons x 3 raters, as in the reference study."""
    layer = Layer.objects.create(network=crowd_study.network, name="layer4", order=9)
    neurons = Neuron.objects.bulk_create(Neuron(layer=layer, unit=u) for u in range(800))
    study = Study.objects.create(name="reference", network=crowd_study.network, raters_per_neuron=3)
    StudyNeuron.objects.bulk_create(StudyNeuron(study=study, neuron=n, order=i) for i, n in enumerate(neurons))
    return study


@pytest.mark.django_db
def test_estimate_command_prints_reward_fee_and_balance(reference_sized_study, stubbed_mturk):
    client, stubber = stubbed_mturk
    stubber.add_response("get_account_balance", {"AvailableBalance": "10000.00"}, {})
    out = StringIO()

    call_command("mturk", "estimate", "--study", "reference", stdout=out)

    lines = out.getvalue().splitlines()
    assert "Assignments: 2400" in lines
    assert "Reward total: $192.00" in lines
    assert "Fee total: $48.00" in lines
    assert "Total: $240.00" in lines
    assert "Expected cost per valid response: unknown (no responses yet)" in lines
    assert "Account balance: $10000.00" in lines


@pytest.mark.django_db
def test_production_publish_needs_the_total_typed_back(reference_sized_study, stubbed_mturk, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    out = StringIO()

    with pytest.raises(CommandError, match="does not match 240.00; nothing was done"):
        call_command("mturk", "publish", "--study", "reference", "--production", stdout=out)

    assert "PRODUCTION" in out.getvalue() and "Total: $240.00" in out.getvalue()
    assert Hit.objects.count() == 0
    assert Publication.objects.get().production is True


@pytest.mark.django_db
def test_publish_dry_run_lists_hits_without_calling_mturk(publication, stubbed_mturk):
    out = StringIO()
    call_command("mturk", "publish", "--study", "crowd", "--dry-run", stdout=out)
    assert out.getvalue().count("[dry-run] would create HIT for") == 2
    assert Hit.objects.count() == 0


@pytest.mark.django_db
def test_unknown_study_and_mturk_refusals_are_clear_errors(publication, stubbed_mturk):
    client, stubber = stubbed_mturk
    with pytest.raises(CommandError, match="no study named 'nope'"):
        call_command("mturk", "harvest", "--study", "nope")
    stubber.add_client_error("get_account_balance", "RequestError", "Your AWS account is not linked to MTurk")
    with pytest.raises(CommandError, match="MTurk refused GetAccountBalance: RequestError: Your AWS account"):
        call_command("mturk", "balance", "--study", "crowd", stdout=StringIO())
    stubber.add_client_error("get_account_balance", "RequestError", "Your AWS account is not linked to MTurk")
    out = StringIO()
    call_command("mturk", "estimate", "--study", "crowd", stdout=out)
    assert "Account balance: not read (MTurk refused GetAccountBalance: RequestError: Your AWS account" in out.getvalue()


@pytest.mark.django_db
def test_estimate_needs_no_aws_credentials(reference_sized_study, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    out = StringIO()

    call_command("mturk", "estimate", "--study", "reference", stdout=out)

    lines = out.getvalue().splitlines()
    assert "Total: $240.00" in lines
    assert lines[-1].startswith("Account balance: not read (no AWS credentials found")
    assert Hit.objects.count() == 0


@pytest.mark.django_db
def test_status_command_lists_hits_and_spend(publication):
    Hit.objects.create(
        publication=publication, study_neuron=publication.study.study_neurons.first(), request_token="ne-x",
        hit_id="3NEURONHIT00000000000000000000", max_assignments=3, status="published", assignments_available=2,
        assignments_pending=1,
    )
    out = StringIO()
    call_command("mturk", "status", "--study", "crowd", stdout=out)
    assert "HITs published: 1 of 1" in out.getvalue()
    assert "available 2, pending 1, submitted 0, approved 0, rejected 0" in out.getvalue()
    assert "spend so far: $0.00" in out.getvalue()


@pytest.mark.django_db
def test_a_production_bonus_is_paid_only_after_its_cost_is_typed_back(publication, stubbed_mturk, monkeypatch):
    from mturk.models import CrowdAssignment

    client, stubber = stubbed_mturk
    Publication.objects.filter(pk=publication.pk).update(production=True)
    CrowdAssignment.objects.create(publication=publication, external_id="3ASSIGNMENT0000000000000000001",
                                   worker_id="WORKERA", provider_status="Approved")
    prompts = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or "0.60")
    stubber.add_response("send_bonus", {}, None)
    out = StringIO()

    call_command("mturk", "bonus", "--study", "crowd", "--production", "--assignment", "3ASSIGNMENT0000000000000000001",
                 "--amount", "0.50", "--reason", "Careful work", stdout=out)

    assert prompts == ["Type the total cost 0.60 to go on: "]
    assert "Bonus $0.50 plus fee: $0.60" in out.getvalue()
    assert "sent bonus 3ASSIGNMENT0000000000000000001: $0.50 to WORKERA" in out.getvalue()


def test_the_client_talks_to_the_sandbox_unless_production_is_asked_for(monkeypatch):
    from mturk.providers.mturk.client import mturk_client

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert mturk_client().meta.endpoint_url == "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
    assert mturk_client(production=True).meta.endpoint_url == "https://mturk-requester.us-east-1.amazonaws.com"
