"""Twenty raters fetch and submit at once against a live server on a file SQLite database."""
import re
import time
from collections import Counter
from functools import partial

import httpx
import pytest

from evaluation.models import Response, StudyNeuron
from evaluation.services import create_study, invite_raters

from .conftest import METHOD_NAMES, build_explained_network
from .helpers import answer, read_task, run_at_once

pytestmark = pytest.mark.concurrency

THREADS = 20
K = 3


def rate_until_done(base_url, token, record, errors):
    url = f"{base_url}/r/{token}/task/"
    try:
        # One connection a request: a kept-alive socket that the test server closes between
        # requests would fail in the HTTP client, not in the code under test.
        with httpx.Client(timeout=60, headers={"Connection": "close"}) as browser:
            answered = 0
            for _ in range(400):
                page = browser.get(url)
                assert page.status_code == 200, page.text[:300]
                if "Thank you!" in page.text:
                    return
                if "All remaining tasks are being worked on" in page.text:
                    # The rest is reserved by raters about to answer: the page says so, try again.
                    time.sleep(0.1)
                    continue
                answered += 1
                assert answered <= 20, "rater was given more tasks than the study has"
                task = read_task(page.text)
                data = answer(task)
                headers = {"Referer": url}
                first = browser.post(url, data=data, headers=headers)
                assert first.status_code == 302, (first.status_code, re.sub(r"\s+", " ", first.text)[:300])
                # A double click: the same form again must not store a second response.
                again = browser.post(url, data=data, headers=headers)
                assert again.status_code == 302, again.status_code
                record.append(task["task"])
            raise AssertionError("rater never reached the thank-you page")
    except Exception as error:  # collected, asserted in the main thread
        errors.append(f"{token}: {type(error).__name__}: {error}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_raters_leave_exactly_k_per_neuron(live_server):
    from django.db import connection

    assert not (connection.vendor == "sqlite" and connection.is_in_memory_db()), "needs separate connections per thread"
    network = build_explained_network(units_per_layer=5, images=10)
    study = create_study("busy", network=network, methods=METHOD_NAMES, per_layer=5, raters_per_neuron=K)
    raters = invite_raters(study, THREADS)
    records = {r.token: [] for r in raters}
    errors = []
    run_at_once([partial(rate_until_done, live_server.url, r.token, records[r.token], errors) for r in raters], timeout=240)
    assert errors == []

    per_neuron = Counter(Response.objects.filter(study=study).values_list("study_neuron", flat=True))
    assert set(per_neuron.values()) == {K} and len(per_neuron) == StudyNeuron.objects.filter(study=study).count() == 10
    pairs = list(Response.objects.values_list("rater__token", "study_neuron"))
    assert len(pairs) == len(set(pairs))  # no rater answered a neuron twice
    stored = set(Response.objects.values_list("assignment__token", flat=True))
    submitted = [task for tasks in records.values() for task in tasks]
    assert len(submitted) == len(set(submitted)) == len(stored) == 10 * K
    assert stored == set(submitted)  # nothing lost, nothing extra
