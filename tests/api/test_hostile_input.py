"""The API under hostile input: NUL characters and over-long values anywhere give 400 (or 422 for a refused file)
naming the field, never a 500 (PostgreSQL refuses NUL in text and over-long strings outright), and store nothing."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evaluation.models import Rater, Response, Study
from explain.models import Explanation, Job, Network

pytestmark = [pytest.mark.submission_safety, pytest.mark.django_db]


def upload(name, text):
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def counts():
    return {model.__name__: model.objects.count() for model in (Network, Explanation, Job, Study, Rater, Response)}


def assert_refused(response, status=(400,), naming=None, echo_limit=5000):
    assert response.status_code in status, response.content[:500]
    assert response["Content-Type"] == "application/problem+json"
    body = response.content.decode()
    assert len(body) < echo_limit  # a huge value is never echoed back whole
    if naming:
        assert naming in body, body


NUL = "a\x00b"
LONG = "x" * 100_000
NUL_BYTE = b"\x00"


@pytest.mark.parametrize("name", ["method", "layer", "network", "unit"])
def test_nul_in_a_query_filter_is_refused_naming_it(api, explained_network, name):
    assert_refused(api.get("/api/v1/explanations/", {name: NUL}), naming=name)


@pytest.mark.parametrize("name", ["method", "layer", "network"])
def test_an_over_long_query_filter_is_refused_naming_it(api, explained_network, name):
    assert_refused(api.get("/api/v1/explanations/", {name: LONG}), naming=f"{name}: Ensure this value has at most")


@pytest.mark.parametrize("field,value", [
    ("title", NUL), ("instructions", NUL), ("name", NUL), ("methods", [NUL]), ("layers", [NUL]), ("probe", NUL),
    ("title", LONG), ("instructions", LONG), ("layers", [LONG]), ("name", LONG),
])
def test_study_create_refuses_nul_and_long_values(api, explained_network, field, value):
    before = counts()
    body = {"name": "hostile", "network": "tiny-cnn", "methods": ["netdissect"], field: value}
    assert_refused(api.post("/api/v1/studies/", body, format="json"), naming=field)
    assert counts() == before


@pytest.mark.parametrize("body,where", [
    ({"class_names": ["cat", NUL]}, "class_names[1]"),
    ({"preprocessing": {"resize": NUL}}, "preprocessing.resize"),
    ({"preprocessing": {NUL: 3}}, "preprocessing (a key)"),
    ({"description": NUL}, "description"),
])
def test_network_create_refuses_nul_anywhere_in_its_json(api, settings, body, where):
    before = counts()
    answer = api.post("/api/v1/networks/", {"name": "rn18", "architecture": "resnet18", "weights": "random:0", **body},
                      format="json")
    assert_refused(answer, naming=f"{where}: contains a NUL character")
    assert counts() == before


@pytest.mark.parametrize("params,where", [
    ({"layers": ["layer1"], "method_params": {"netdissect": {NUL: 1}}}, "method_params.netdissect (a key)"),
    ({"layers": ["layer1"], "method_params": {"netdissect": {"k": NUL}}}, "method_params.netdissect.k"),
    ({"layers": [NUL]}, "layers[0]"),
])
def test_job_create_refuses_nul_in_nested_params(api, explained_network, params, where):
    before = counts()
    answer = api.post("/api/v1/jobs/", {"network": "tiny-cnn", "probe": "tiny-probe", "methods": ["netdissect"], **params},
                      format="json")
    assert_refused(answer, naming=where)
    assert counts() == before


@pytest.mark.parametrize("text", [
    "layer,unit,description\nlayer1,0,red\x00things\n",
    f"layer,unit,description\nlayer1,0,{'r' * 200_000}\n",
    f"layer,unit,description\n{'l' * 5000},0,red\n",
])
def test_explanation_files_with_nul_or_long_cells_are_refused(api, explained_network, text):
    before = counts()
    answer = api.post("/api/v1/explanations/", {"file": upload("hostile.csv", text), "network": "tiny-cnn",
                                                 "method": "milan", "format": "milan"}, format="multipart")
    # A researcher's own file: its refused cells are quoted back (5000 characters at most here, under the request cap).
    nul_at = text.encode().find(NUL_BYTE)
    naming = f"NUL byte (at byte {nul_at})" if nul_at >= 0 else "hostile.csv"
    assert_refused(answer, status=(400, 422), naming=naming, echo_limit=25_000)
    assert counts() == before


@pytest.mark.parametrize("column,value", [("rater", "r\x00x"), ("rater", "r" * 5000), ("response_id", "s" * 5000),
                                          ("text", "t\x00x"), ("layer", "l" * 5000), ("network", "n\x00")])
def test_ratings_files_with_nul_or_long_cells_are_refused(api, toy_study, column, value):
    import csv
    import io

    exported = b"".join(api.get(f"/api/v1/studies/{toy_study.name}/ratings/").streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(exported, newline="")))
    rows[0][column] = value
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    before = counts()
    answer = api.post("/api/v1/study-imports/", {"name": "copy", "file": upload("hostile.csv", out.getvalue())},
                      format="multipart")
    assert_refused(answer, status=(400, 422), naming="NUL byte" if "\x00" in value else "row", echo_limit=25_000)
    assert counts() == before


def test_nul_or_long_idempotency_key_and_upload_name(api, explained_network):
    for key in ("a\x00b", "k" * 300):
        answer = api.post("/api/v1/studies/", {"name": "s1", "network": "tiny-cnn", "methods": ["netdissect"]},
                          format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert_refused(answer, naming="Idempotency-Key")
    answer = api.post("/api/v1/explanations/", {"file": upload("x" * 300 + ".csv", "layer,unit,description\nlayer1,0,red\n"),
                                                 "network": "tiny-cnn", "method": "milan", "format": "milan"},
                      format="multipart")
    assert answer.status_code in (201, 400, 422), answer.content[:300]
