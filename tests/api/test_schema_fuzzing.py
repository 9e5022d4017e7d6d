"""schemathesis against the live schema, through the app's WSGI entry point (the whole Django stack: middleware,
authentication, URL conf), with a researcher's token: every operation, positive and negative inputs, no 5xx,
and every response as the schema says (status, content type, headers, body). Derandomized, so a run is
repeatable; a modest example count keeps it to a few minutes on a loaded machine."""
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from explain.models import Explanation, Job
from tests.analysis.conftest import build_study
from tests.evaluation.conftest import build_explained_network

from .conftest import api_operations, make_researcher, schema_path_pattern

MAX_EXAMPLES = 8
# tests/api/conftest.py turns a skipped test of this module into a failure: an operation schemathesis cannot
# generate requests for is an operation nobody checked.
FAIL_ON_SKIP = True
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance"]


def load_live_schema():
    """The schema as the running app serves it at /api/schema/ (read through its WSGI entry point at collection;
    schemathesis' fixture-based loader does not work with this pytest)."""
    from config.wsgi import application

    loaded = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    loaded.config.generation.update(modes=["positive", "negative"], max_examples=MAX_EXAMPLES, deterministic=True)
    return loaded


@pytest.fixture
def in_process_requests(db):
    """Requests through the WSGI app inside the test's transaction: as Django's test client does, keep the
    request signals from closing the test's database connection."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def known_objects(in_process_requests):
    """What path parameters point at, so every operation reaches a real object as well as the fuzzed input."""
    build_explained_network()
    researcher, secret = make_researcher("fuzzer")
    study = build_study("toy-study")
    study.owner = researcher
    study.save(update_fields=["owner"])
    job = Job.objects.create(kind="explain", params={"network": "tiny-cnn"})
    return {
        "token": secret,
        "path": {"name": {"studies": "toy-study", "networks": "tiny-cnn", "probes": "tiny-probe", "methods": "netdissect"},
                 "id": {"jobs": str(job.pk), "explanations": str(Explanation.objects.first().pk)}},
    }


schema = load_live_schema()
pytestmark = pytest.mark.slow


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_conforms(case, known_objects):
    resource = case.operation.path.split("/")[3]
    for parameter, by_resource in known_objects["path"].items():
        if case.path_parameters and parameter in case.path_parameters and resource in by_resource:
            case.path_parameters[parameter] = by_resource[resource]
    case.call_and_validate(
        headers={"Authorization": f"Bearer {known_objects['token']}"},
        checks=[getattr(schemathesis.checks, name) for name in CHECKS],
    )


def test_the_live_schema_has_every_operation_the_url_conf_routes():
    """A view left out of the schema (or a schema entry without a view) would escape the fuzzing above."""
    described = []
    for result in schema.get_all_operations():
        operation = result.ok()  # an operation schemathesis cannot read raises here
        described.append((operation.method.upper(), schema_path_pattern(operation.path)))
    assert sorted(described) == api_operations()

