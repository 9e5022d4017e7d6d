"""A two-neuron study and an MTurk client whose every request is checked by botocore's Stubber."""
import itertools

import boto3
import pytest
from botocore.stub import Stubber

from evaluation.services import create_study
from mturk.models import Publication
from mturk.publications import open_publication
from tests.evaluation.conftest import METHOD_NAMES, build_explained_network

SITE = "https://ratings.example.org"


@pytest.fixture(autouse=True)
def https_site(settings):
    settings.SITE_URL = SITE


@pytest.fixture
def crowd_study(db):
    texts = {"netdissect": "red circles", "clip-dissect-annotations": "round <b>shapes</b>", "shuffled-control": "stripes"}
    network = build_explained_network(layers=("layer1",), units_per_layer=2, images=10, texts=texts)
    return create_study("crowd", network=network, methods=METHOD_NAMES, layers=["layer1"], per_layer=2, seed=0)


@pytest.fixture
def publication(crowd_study):
    return open_publication(crowd_study, Publication.Provider.MTURK)


@pytest.fixture
def stubbed_mturk(monkeypatch):
    """A real boto3 MTurk client on the sandbox endpoint; requests are checked, never sent."""
    client = boto3.client(
        "mturk",
        region_name="us-east-1",
        endpoint_url="https://mturk-requester-sandbox.us-east-1.amazonaws.com",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stubber = Stubber(client)
    monkeypatch.setattr("mturk.providers.mturk.provider.mturk_client", lambda production=False: client)
    with stubber:
        yield client, stubber
    stubber.assert_no_pending_responses()


def fixed_hit_token(n):
    return f"ne-testtoken{n}"


@pytest.fixture
def fixed_hit_tokens(monkeypatch):
    """HIT tokens handed out in publish order (real ones are random), so a stubbed CreateHIT can name them."""
    made = (fixed_hit_token(n) for n in itertools.count())
    monkeypatch.setattr("mturk.providers.mturk.provider.new_hit_token", lambda: next(made))
