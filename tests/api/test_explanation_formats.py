"""Explanations uploaded through the API in every import format (the first rows of the published files), and a
broken copy of each refused whole: 422 naming the file's row and the column, nothing stored."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from explain.importers import FORMATS
from explain.models import Explanation, Network

pytestmark = pytest.mark.django_db

NETDISSECT_HEADER = "unit,category,label,score,color-label,color-iou"
# format: (layer, file that imports, {(layer, unit, rank): text}, broken copy, its bad row, what the refusal says)
SAMPLES = {
    "clip-dissect": (
        "", "layer,unit,description,similarity\nconv1,0,red,0.25616455\nconv1,1,snorkeling,0.25076294\n",
        {("conv1", 0, 1): "red", ("conv1", 1, 1): "snorkeling"},
        "layer,unit,description,similarity\nconv1,0,red,0.25616455\nconv1,1,snorkeling,high\n",
        2, "similarity 'high' is not a number"),
    "milan": (
        "", "layer,unit,description\nconv1,0,Black lettering and numbers\nlayer4,2047,Neon green\n",
        {("conv1", 0, 1): "Black lettering and numbers", ("layer4", 2047, 1): "Neon green"},
        "layer,unit,description\nconv1,0,Black lettering and numbers\nconv1,1,\n",
        2, "empty description"),
    "netdissect": (
        "layer1", f"{NETDISSECT_HEADER}\n1,color,green-c,0.0103,green-c,0.0103\n2,texture,perforated,0.0054,black-c,0.0034\n",
        {("layer1", 0, 1): "green-c", ("layer1", 1, 1): "perforated"},
        f"{NETDISSECT_HEADER}\n1,color,green-c,0.0103,green-c,0.0103\n0,texture,perforated,0.0054,black-c,0.0034\n",
        2, "unit 0 out of range: NetDissect-Lite units are 1-based"),
    "dnd": (
        "layer1", "Neuron ID,Label 1,Label 2,Label 3\n6,diagonal black and white pattern,repetitive diagonal pattern,"
                  "repetitive black and white pattern\n10,red and white patterns,red and white designs,\n",
        {("layer1", 6, 1): "diagonal black and white pattern", ("layer1", 6, 2): "repetitive diagonal pattern",
         ("layer1", 6, 3): "repetitive black and white pattern", ("layer1", 10, 1): "red and white patterns",
         ("layer1", 10, 2): "red and white designs"},
        "Neuron ID,Label 1,Label 2,Label 3\n6,diagonal,pattern,stripes\nsix,red,white,designs\n",
        2, "Neuron ID 'six' is not an integer"),
    "csv": (
        "", "layer,unit,description,score\nlayer2,5,stripes,0.5\nlayer3,7,grass,\n",
        {("layer2", 5, 1): "stripes", ("layer3", 7, 1): "grass"},
        "layer,unit,description,score\nlayer2,5,stripes,0.5\nlayer2,512,grass,\n",
        2, "unit 512 out of range for layer layer2 (512 units)"),
}


def test_every_import_format_has_a_sample_here():
    assert set(SAMPLES) == set(FORMATS)


def post(api, fmt, text, layer, name):
    fields = {"file": SimpleUploadedFile(name, text.encode(), "text/csv"), "network": "resnet50-imagenet",
              "method": f"{fmt}-published", "format": fmt}
    if layer:
        fields["layer"] = layer
    return api.post("/api/v1/explanations/", fields, format="multipart")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_in_each_format_is_imported(api, fmt):
    layer, text, expected, *_ = SAMPLES[fmt]
    response = post(api, fmt, text, layer, f"{fmt}.csv")
    assert response.status_code == 201, response.content
    assert response.json()["count"] == len(expected) and response.json()["source_file"] == f"{fmt}.csv"
    stored = {(e.neuron.layer.name, e.neuron.unit, e.rank): e.text
              for e in Explanation.objects.filter(method__name=f"{fmt}-published").select_related("neuron__layer")}
    assert stored == expected
    assert Network.objects.get(name="resnet50-imagenet").architecture == "resnet50"
    listed = api.get("/api/v1/explanations/", {"method": f"{fmt}-published", "network": "resnet50-imagenet"}).json()
    assert sorted(row["text"] for row in listed["results"]) == sorted(expected.values())


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_broken_file_in_each_format_is_refused_whole_naming_row_and_column(api, fmt):
    layer, _, _, broken, row, reason = SAMPLES[fmt]
    response = post(api, fmt, broken, layer, f"broken-{fmt}.csv")
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/api/problems/file-refused"
    assert problem["detail"] == f"Nothing imported. broken-{fmt}.csv: row {row}: {reason}"
    assert problem["errors"] == [{"field": "file", "row": row, "detail": reason}]
    assert not Explanation.objects.exists() and not Network.objects.exists()
