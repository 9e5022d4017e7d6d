"""The writes: explanations uploaded (refused whole, row and field named), studies created with create_study's
checks, raters invited, ratings imported and exported, probing folders, explain jobs; Idempotency-Key on each."""
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from api.models import IdempotencyRecord
from evaluation.models import Rater, Study
from explain.models import Explanation, Job, ProbeDataset

pytestmark = pytest.mark.django_db


def upload(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), "text/csv")


def test_explanation_file_is_imported_with_its_own_name(api, explained_network):
    response = api.post("/api/v1/explanations/", {
        "file": upload("milan-tiny.csv", "layer,unit,description\nlayer1,0,red things\nlayer1,1,blue things\n"),
        "network": "tiny-cnn", "method": "milan", "format": "milan"}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json() == {"network": "tiny-cnn", "method": "milan", "source_file": "milan-tiny.csv",
                               "per_layer": {"layer1": 2}, "count": 2, "replaced": 0}
    listed = api.get("/api/v1/explanations/", {"method": "milan", "layer": "layer1", "unit": 1}).json()["results"]
    assert [(row["unit"], row["text"], row["source_file"], row["source_row"]) for row in listed] == [
        (1, "blue things", "milan-tiny.csv", 2)]


def test_a_bad_explanation_file_is_refused_whole_naming_row_and_field(api, explained_network):
    before = Explanation.objects.count()
    response = api.post("/api/v1/explanations/", {
        "file": upload("bad.csv", "layer,unit,description\nlayer1,0,fine\nlayer1,x,broken\n"),
        "network": "tiny-cnn", "method": "milan", "format": "milan"}, format="multipart")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/api/problems/file-refused"
    assert problem["detail"] == "Nothing imported. bad.csv: row 2: unit 'x' is not an integer"
    assert problem["errors"] == [{"field": "file", "row": 2, "detail": "unit 'x' is not an integer"}]
    assert "neuroneval-upload" not in response.content.decode()  # the server's temporary folder stays private
    assert Explanation.objects.count() == before


def test_missing_upload_fields_are_field_errors(api):
    response = api.post("/api/v1/explanations/", {"network": "tiny-cnn", "format": "yaml"}, format="multipart")
    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"file", "method", "format"}


def test_study_is_created_with_create_studys_checks_and_owned_by_its_creator(api, researcher, explained_network):
    body = {"name": "s1", "network": "tiny-cnn", "methods": ["netdissect", "shuffled-control"], "per_layer": 2}
    created = api.post("/api/v1/studies/", body, format="json")
    assert created.status_code == 201
    assert created.json()["neuron_count"] == 4
    assert Study.objects.get(name="s1").owner == researcher[0]
    refused = api.post("/api/v1/studies/", {**body, "name": "s2", "methods": ["netdissect"]}, format="json")
    assert refused.status_code == 422
    assert refused.json()["detail"] == "a study compares 2 to 8 methods, got 1"
    clash = api.post("/api/v1/studies/", body, format="json")
    assert clash.status_code == 422 and "already exists" in clash.json()["detail"]
    assert api.patch("/api/v1/studies/s1/", {"status": "paused"}, format="json").json()["status"] == "paused"
    assert api.patch("/api/v1/studies/s1/", {"status": "gone"}, format="json").status_code == 400


def test_status_changes_follow_the_life_cycle(api, researcher, explained_network):
    body = {"name": "cycle", "network": "tiny-cnn", "methods": ["netdissect", "shuffled-control"], "per_layer": 1,
            "status": "draft"}
    assert api.post("/api/v1/studies/", body, format="json").status_code == 201
    move = lambda status: api.patch("/api/v1/studies/cycle/", {"status": status}, format="json")
    refused = move("paused")
    assert refused.status_code == 422 and refused.json()["detail"] == "the study is draft; it can become closed or open, not paused"
    assert [move(status).json()["status"] for status in ("open", "paused", "open", "closed")] == [
        "open", "paused", "open", "closed"]
    for status in ("open", "draft", "paused"):
        assert move(status).json()["detail"] == f"the study is closed; it can become nothing (closed is final), not {status}"
    assert Study.objects.get(name="cycle").status == "closed"


def test_idempotency_key_replays_a_create_and_refuses_another_body(api, researcher, explained_network):
    body = {"name": "once", "network": "tiny-cnn", "methods": ["netdissect", "shuffled-control"], "per_layer": 1}
    first = api.post("/api/v1/studies/", body, format="json", HTTP_IDEMPOTENCY_KEY="create-once")
    again = api.post("/api/v1/studies/", body, format="json", HTTP_IDEMPOTENCY_KEY="create-once")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Study.objects.filter(name="once").count() == 1
    other = api.post("/api/v1/studies/", {**body, "name": "twice"}, format="json", HTTP_IDEMPOTENCY_KEY="create-once")
    assert other.status_code == 422
    assert other.json()["type"] == "/api/problems/idempotency-key-reused"
    assert not Study.objects.filter(name="twice").exists()


def test_an_idempotency_key_may_be_used_again_after_a_day(api, researcher, explained_network):
    from datetime import timedelta

    from django.utils import timezone

    body = {"name": "day-one", "network": "tiny-cnn", "methods": ["netdissect", "shuffled-control"], "per_layer": 1}
    assert api.post("/api/v1/studies/", body, format="json", HTTP_IDEMPOTENCY_KEY="daily").status_code == 201
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    next_day = api.post("/api/v1/studies/", {**body, "name": "day-two"}, format="json", HTTP_IDEMPOTENCY_KEY="daily")
    assert next_day.status_code == 201 and next_day.json()["name"] == "day-two"
    assert IdempotencyRecord.objects.get().body["name"] == "day-two"  # the expired record is gone


def test_idempotency_keys_belong_to_their_user_and_refusals_are_not_kept(api, explained_network, other_researcher):
    from .conftest import client_with

    body = {"name": "k", "network": "tiny-cnn", "methods": ["netdissect", "nope"]}
    assert api.post("/api/v1/studies/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1").status_code == 422
    assert not IdempotencyRecord.objects.exists()  # a refused request may be corrected and retried with its key
    fixed = {**body, "methods": ["netdissect", "shuffled-control"], "per_layer": 1}
    assert api.post("/api/v1/studies/", fixed, format="json", HTTP_IDEMPOTENCY_KEY="k1").status_code == 201
    theirs = client_with(other_researcher[1]).post("/api/v1/studies/", {**fixed, "name": "k-2"}, format="json",
                                                  HTTP_IDEMPOTENCY_KEY="k1")
    assert theirs.status_code == 201 and theirs.json()["name"] == "k-2"
    in_flight = IdempotencyRecord.objects.create(user=other_researcher[0], key="busy", method="POST",
                                                 path="/api/v1/studies/", request_hash="x")
    busy = client_with(other_researcher[1]).post("/api/v1/studies/", fixed, format="json", HTTP_IDEMPOTENCY_KEY="busy")
    assert busy.status_code == 422  # another body than the one in flight
    in_flight.delete()
    bad_key = api.post("/api/v1/studies/", fixed, format="json", HTTP_IDEMPOTENCY_KEY="has space")
    assert bad_key.status_code == 400 and bad_key.json()["errors"][0]["field"] == "Idempotency-Key"


def test_invites_make_rater_links(api, toy_study, settings):
    settings.SITE_URL = "https://rate.example.org"
    response = api.post(f"/api/v1/studies/{toy_study.name}/invites/", {"count": 3}, format="json")
    assert response.status_code == 201
    raters = response.json()["raters"]
    assert len(raters) == 3 and all(r["link"].startswith("https://rate.example.org/r/") for r in raters)
    assert Rater.objects.filter(study=toy_study, kind="invited", label__startswith="invited").count() == 3
    assert api.post(f"/api/v1/studies/{toy_study.name}/invites/", {"count": 0}, format="json").status_code == 400
    pages = [api.get(f"/api/v1/studies/{toy_study.name}/invites/", {"kind": "invited", "page_size": 2}).json()]
    while pages[-1]["next"]:
        pages.append(api.get(pages[-1]["next"]).json())
    # The study's two raters, then the three new ones, each once, in pages of two.
    assert [len(page["results"]) for page in pages] == [2, 2, 1]
    ids = [rater["id"] for page in pages for rater in page["results"]]
    assert ids == sorted(Rater.objects.filter(study=toy_study).values_list("pk", flat=True))


def test_ratings_export_streams_the_tidy_file_and_import_round_trips(api, toy_study, researcher):
    exported = api.get(f"/api/v1/studies/{toy_study.name}/ratings/")
    assert exported.status_code == 200 and exported.streaming
    text = b"".join(exported.streaming_content).decode()
    assert len(text.splitlines()) == 1 + 18
    created = api.post("/api/v1/study-imports/", {"name": "copy", "file": upload("toy.csv", text)}, format="multipart")
    assert created.status_code == 201 and created.json()["responses"] == 6
    again = api.post("/api/v1/studies/copy/ratings/", {"file": upload("toy.csv", text)}, format="multipart")
    assert again.status_code == 422
    assert again.json()["errors"][0]["row"] == 2 and "toy.csv, row 2" in again.json()["errors"][0]["detail"]
    assert Study.objects.get(name="copy").responses.count() == 6


def test_responses_are_listed_with_filters(api, toy_study):
    invalid = api.get(f"/api/v1/studies/{toy_study.name}/responses/", {"is_valid": "false"}).json()["results"]
    assert [(row["layer"], row["unit"], row["invalid_reason"]) for row in invalid] == [
        ("layer1", 1, "best pick is not among the highest rated")]
    assert {r["method"]: r["value"] for r in invalid[0]["ratings"]} == {"alpha": 4, "beta": 2, "shuffled-control": 3}
    assert api.get(f"/api/v1/studies/{toy_study.name}/responses/", {"unit": "-1"}).status_code == 400


def test_probe_folders_only_from_the_allowed_server_folders(api, settings, tmp_path):
    from PIL import Image

    allowed = tmp_path / "allowed"
    (allowed / "shapes" / "circle").mkdir(parents=True)
    Image.new("RGB", (8, 8), "red").save(allowed / "shapes" / "circle" / "a.png")
    settings.API_SERVER_FOLDERS = [str(allowed)]
    created = api.post("/api/v1/probes/", {"name": "shapes", "path": "shapes"}, format="json")
    assert created.status_code == 201
    assert (created.json()["image_count"], created.json()["class_names"]) == (1, ["circle"])
    outside = api.post("/api/v1/probes/", {"name": "etc", "path": "../../../etc"}, format="json")
    assert outside.status_code == 422 and outside.json()["type"] == "/api/problems/folder-not-allowed"
    assert list(ProbeDataset.objects.values_list("name", flat=True)) == ["shapes"]


def test_explain_job_is_checked_then_submitted(api, explained_network):
    refused = api.post("/api/v1/jobs/", {"network": "nonet", "probe": "tiny-probe", "layers": ["layer1"],
                                         "methods": ["netdissect", "no-such-method"]}, format="json")
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} == {"network", "methods"}
    assert not Job.objects.exists()
    # tiny-cnn has no weights: the job runs (no broker: in the request) and fails with the engine's reason.
    submitted = api.post("/api/v1/jobs/", {"network": "tiny-cnn", "probe": "tiny-probe", "layers": ["layer1"],
                                           "methods": ["netdissect"]}, format="json")
    assert submitted.status_code == 202
    job = api.get(f"/api/v1/jobs/{submitted.json()['id']}/").json()
    assert job["status"] == "failed" and "has no weights_source" in job["error"]


def test_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.")
    assert "/api/v1/studies/{name}/comparison/" in schema.json()["paths"]
    docs = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in docs
    # Every asset the page loads comes from this server (the CSRF token in the page is random text,
    # so searching the whole page for "cdn" fails one run in a few hundred).
    loaded = re.findall(r'(?:src|href)="([^"]+)"', docs)
    assert loaded and all(url.startswith("/") for url in loaded), loaded
    assert "https://" not in docs and "//cdn" not in docs.lower()
    from django.contrib.staticfiles import finders

    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def test_a_network_is_added_as_add_network_does(api, settings, tmp_path):
    added = api.post("/api/v1/networks/", {"name": "rn18", "architecture": "resnet18", "weights": "random:0",
                                           "class_names": ["cat", "dog"]}, format="json")
    assert added.status_code == 201, added.content
    body = added.json()
    assert (body["architecture"], body["weights_source"], body["class_names"]) == ("resnet18", "random:0", ["cat", "dog"])
    again = api.post("/api/v1/networks/", {"name": "rn18", "architecture": "resnet18", "weights": "random:0"}, format="json")
    assert again.status_code == 422 and again.json()["detail"] == "a network named 'rn18' already exists"
    settings.API_SERVER_FOLDERS = [str(tmp_path)]
    outside = api.post("/api/v1/networks/", {"name": "x", "architecture": "resnet18", "weights": "/etc/passwd"},
                       format="json")
    assert outside.status_code == 422 and outside.json()["type"] == "/api/problems/file-not-allowed"
    bad_names = api.post("/api/v1/networks/", {"name": "y", "architecture": "resnet18", "weights": "random:0",
                                               "class_names": "/etc/hosts"}, format="json")
    assert bad_names.status_code == 400 and bad_names.json()["errors"][0]["field"] == "class_names"


def test_a_labelling_study_is_created_with_its_kind_and_image_counts(api, explained_network):
    body = {"name": "labels", "network": "tiny-cnn", "methods": ["netdissect"], "per_layer": 2, "kind": "labelling",
            "top_images_per_task": 4, "random_images_per_task": 1}
    created = api.post("/api/v1/studies/", body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["kind"], data["top_images_per_task"], data["random_images_per_task"], data["images_per_task"]) == (
        "labelling", 4, 1, 5)
    assert data["neuron_count"] == 4  # 2 neurons a layer x 2 layers x 1 method: one task per description
    refused = api.post("/api/v1/studies/", {**body, "name": "rated", "kind": "rating", "methods": ["netdissect", "milan"]},
                       format="json")
    assert refused.status_code == 422 and "top and random image counts are for labelling studies" in refused.json()["detail"]
    assert api.post("/api/v1/studies/", {**body, "name": "odd", "kind": "survey"}, format="json").status_code == 400
    assert not Study.objects.filter(name__in=["rated", "odd"]).exists()


def test_an_explain_job_runs_and_reports_its_status_and_progress(api, settings, tmp_path):
    from demo.synthetic import SyntheticConfig, ensure_synthetic_probe
    from explain.models import Network

    settings.VAR_DIR = tmp_path / "var"
    Network.objects.create(name="demo-cnn", architecture="demo-cnn", weights_source="random:0")
    ensure_synthetic_probe("tiny", seed=0, config=SyntheticConfig(n_images=12))
    submitted = api.post("/api/v1/jobs/", {"network": "demo-cnn", "probe": "tiny", "layers": ["conv1"],
                                           "methods": ["netdissect"], "top_k": 3}, format="json")
    assert submitted.status_code == 202, submitted.content
    job = api.get(f"/api/v1/jobs/{submitted.json()['id']}/").json()
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 1.0 and job["progress_done"] == job["progress_total"] > 0
    assert [row["id"] for row in api.get("/api/v1/jobs/", {"status": "succeeded"}).json()["results"]] == [job["id"]]
    stored = Explanation.objects.filter(method__name="netdissect", neuron__layer__name="conv1")
    listed = api.get("/api/v1/explanations/", {"network": "demo-cnn", "layer": "conv1", "method": "netdissect",
                                               "page_size": 500}).json()["results"]
    assert stored.count() == 16 and sorted(row["id"] for row in listed) == sorted(stored.values_list("pk", flat=True))


@pytest.mark.parametrize("methods, params, field, detail", [
    (["netdissect"], {"netdissect": {"bogus": 1}}, "method_params.netdissect", "bogus"),
    (["netdissect"], {"milan": {"k": 1}}, "method_params.netdissect", "params for method(s) milan"),
    (["shuffled-control"], {}, "method_params.shuffled-control", "needs another method's explanations"),
])
def test_an_explain_job_the_run_would_refuse_is_refused_before_it_is_made(api, explained_network, methods, params,
                                                                          field, detail):
    refused = api.post("/api/v1/jobs/", {"network": "tiny-cnn", "probe": "tiny-probe", "layers": ["layer1"],
                                         "methods": methods, "method_params": params}, format="json")
    assert refused.status_code == 422, refused.content
    assert [e["field"] for e in refused.json()["errors"]] == [field] and detail in refused.json()["detail"]
    assert not Job.objects.exists()


def test_every_create_takes_an_idempotency_key(client):
    from .conftest import api_operations, schema_path_pattern

    schema = client.get("/api/schema/", {"format": "json"}).json()
    creates = {path for method, path in api_operations() if method == "POST"}
    described = {schema_path_pattern(path): operations["post"] for path, operations in schema["paths"].items()
                 if "post" in operations}
    assert set(described) == creates and len(creates) == 8
    for path, operation in described.items():
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in headers, path


def test_an_upload_retried_with_its_key_is_imported_once_and_another_file_is_refused(api, explained_network):
    text = "layer,unit,description\nlayer1,0,red things\nlayer1,1,blue things\n"
    fields = {"network": "tiny-cnn", "method": "milan", "format": "milan"}
    first = api.post("/api/v1/explanations/", {**fields, "file": upload("m.csv", text)}, format="multipart",
                     HTTP_IDEMPOTENCY_KEY="upload-1")
    Explanation.objects.filter(method__name="milan").update(text="edited since")  # a second import would undo this
    again = api.post("/api/v1/explanations/", {**fields, "file": upload("m.csv", text)}, format="multipart",
                     HTTP_IDEMPOTENCY_KEY="upload-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert set(Explanation.objects.filter(method__name="milan").values_list("text", flat=True)) == {"edited since"}
    other = api.post("/api/v1/explanations/", {**fields, "file": upload("m.csv", text.replace("red", "green"))},
                     format="multipart", HTTP_IDEMPOTENCY_KEY="upload-1")
    assert other.status_code == 422 and other.json()["type"] == "/api/problems/idempotency-key-reused"
    assert not Explanation.objects.filter(text__startswith="green").exists()



def test_a_tidy_file_is_imported_into_an_existing_study(api, toy_study):
    lines = b"".join(api.get(f"/api/v1/studies/{toy_study.name}/ratings/").streaming_content).decode().splitlines()
    header, rows = lines[0], lines[1:]
    by_rater = {rater: [row for row in rows if row.split(",")[1] == rater] for rater in ("r1", "r2")}
    assert [len(part) for part in by_rater.values()] == [9, 9]  # each rater rated every neuron of the study
    first, rest = ("\n".join([header, *by_rater[rater]]) + "\n" for rater in ("r1", "r2"))
    created = api.post("/api/v1/study-imports/", {"name": "halves", "file": upload("r1.csv", first)},
                       format="multipart")
    assert created.status_code == 201 and created.json()["responses"] == 3
    added = api.post("/api/v1/studies/halves/ratings/", {"file": upload("r2.csv", rest)}, format="multipart")
    assert added.status_code == 201, added.content
    assert (added.json()["study"], added.json()["responses"], added.json()["ratings"]) == ("halves", 3, 9)
    table = api.get("/api/v1/studies/halves/comparison/", {"bootstrap": 50}).json()
    assert table == api.get(f"/api/v1/studies/{toy_study.name}/comparison/", {"bootstrap": 50}).json()
