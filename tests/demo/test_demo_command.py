"""The demo's second run reuses the study and prints the same links and login.
(The first run needs the explanation engine: synthetic probe, demo CNN, offline methods.)"""
import re
from io import StringIO

import pytest
from django.core.management import call_command

from evaluation.services import create_study
from tests.evaluation.conftest import METHOD_NAMES, build_explained_network


@pytest.mark.django_db
def test_demo_reuses_an_existing_study_and_prints_links_and_login(client, settings, tmp_path):
    settings.VAR_DIR = tmp_path  # where the demo keeps the researcher password
    create_study("demo", network=build_explained_network(), methods=METHOD_NAMES, per_layer=3)
    first, second = StringIO(), StringIO()
    call_command("demo", "--no-serve", stdout=first)
    call_command("demo", "--no-serve", stdout=second)
    links = re.findall(r"http://127\.0\.0\.1:8000/r/\S+/", first.getvalue())
    assert len(links) == 3 and links == re.findall(r"http://127\.0\.0\.1:8000/r/\S+/", second.getvalue())
    assert "Reusing study 'demo' (6 neurons)" in second.getvalue()
    password = re.search(r"login 'researcher', password '([^']+)'", first.getvalue()).group(1)
    assert password in second.getvalue()
    signed_in = client.post("/accounts/login/", {"username": "researcher", "password": password})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/studies/"
    assert (tmp_path / "demo-researcher-password.txt").read_text().strip() == password
