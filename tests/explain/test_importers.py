from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from explain.importers import ImportFileError, import_explanations
from explain.models import Explanation, Layer, Method, Network, Neuron

from tests.explain.methods.fixtures import shared_data_dir

pytestmark = pytest.mark.django_db


@pytest.fixture
def published():
    """The published explanation files (../shared/data/published, or $NEURONEVAL_SHARED_DATA/published)."""
    data = shared_data_dir()
    if data is None or not (data / "published").is_dir():
        pytest.skip("published explanation files not found: set NEURONEVAL_SHARED_DATA to the shared data folder")
    return data / "published"


def run_import(path, *, network="resnet50", method, fmt, layer=None):
    args = [str(path), "--network", network, "--method", method, "--format", fmt]
    if layer:
        args += ["--layer", layer]
    call_command("import_explanations", *args)


def per_layer(method):
    return dict(Counter(Explanation.objects.filter(method__name=method).values_list("neuron__layer__name", flat=True)))


def test_clip_dissect_resnet50_file_gives_3904_explanations_and_reimport_replaces(published):
    path = published / "CLIP_Dissect__resnet50_imagenet_broden.csv"

    run_import(path, method="clip-dissect-published", fmt="clip-dissect")
    first = Explanation.objects.filter(method__name="clip-dissect-published").count()
    run_import(path, method="clip-dissect-published", fmt="clip-dissect")

    assert first == 3904
    assert per_layer("clip-dissect-published") == {"conv1": 64, "layer1": 256, "layer2": 512, "layer3": 1024, "layer4": 2048}
    assert Explanation.objects.count() == 3904 and Neuron.objects.count() == 3904
    red = Explanation.objects.get(method__name="clip-dissect-published", neuron__layer__name="conv1", neuron__unit=0)
    assert (red.text, red.score, red.score_name) == ("red", pytest.approx(0.25616455), "similarity")
    assert (red.source_file, red.source_row) == (path.name, 1)
    network = Network.objects.get(name="resnet50")
    assert (network.architecture, network.weights_source) == ("resnet50", "")
    assert Method.objects.get(name="clip-dissect-published").kind == Method.Kind.IMPORTED


def test_milan_resnet50_file_gives_4904_explanations_over_conv1_to_fc(published):
    path = published / "MILAN__m_base_resnet50_imagenet.csv"

    run_import(path, method="milan", fmt="milan")
    run_import(path, method="milan", fmt="milan")

    assert Explanation.objects.filter(method__name="milan").count() == 4904
    assert per_layer("milan") == {"conv1": 64, "layer1": 256, "layer2": 512, "layer3": 1024, "layer4": 2048, "fc": 1000}
    assert Layer.objects.get(name="fc").unit_count == 1000


@pytest.mark.parametrize("layer, units", [("layer1", 256), ("layer2", 512), ("layer3", 1024), ("layer4", 2048)])
def test_netdissect_layer_file_gives_one_explanation_per_unit_and_shifts_its_1_based_units(published, layer, units):
    path = published / f"NetDissect__resnet50_imagenet_{layer}.csv"

    run_import(path, method="netdissect-published", fmt="netdissect", layer=layer)
    run_import(path, method="netdissect-published", fmt="netdissect", layer=layer)

    stored = Explanation.objects.filter(method__name="netdissect-published")
    assert stored.count() == units
    assert sorted(stored.values_list("neuron__unit", flat=True)) == list(range(units))
    first_row = stored.get(source_row=1)
    assert first_row.neuron.unit == 0 and first_row.details["unit_in_file"] == 1
    assert first_row.score_name == "iou" and first_row.details["category"]


def test_netdissect_label_and_category_are_kept(published):
    run_import(published / "NetDissect__resnet50_imagenet_layer1.csv", method="netdissect-published", fmt="netdissect", layer="layer1")

    unit0 = Explanation.objects.get(neuron__layer__name="layer1", neuron__unit=0)  # file row "1,color,purple-c,0.092690783"

    assert (unit0.text, unit0.details["category"], unit0.score) == ("purple-c", "color", pytest.approx(0.092690783))


@pytest.mark.parametrize("layer", ["layer1", "layer2", "layer3", "layer4"])
def test_dnd_layer_file_gives_50_neurons_with_up_to_3_ranked_labels(published, layer):
    path = published / f"DnD__resnet50_imagenet_broden_{layer}.csv"

    run_import(path, method="dnd", fmt="dnd", layer=layer)
    run_import(path, method="dnd", fmt="dnd", layer=layer)

    stored = Explanation.objects.filter(method__name="dnd")
    labels_per_neuron = Counter(stored.values_list("neuron_id", flat=True))
    assert len(labels_per_neuron) == 50
    assert set(labels_per_neuron.values()) <= {1, 2, 3} and 3 in labels_per_neuron.values()
    assert not stored.filter(text__regex=r"^\s*$").exists()
    for neuron_id, count in labels_per_neuron.items():
        assert sorted(stored.filter(neuron_id=neuron_id).values_list("rank", flat=True)) == list(range(1, count + 1))


def test_dnd_blank_extra_labels_are_skipped(published):
    # layer2 row 2: "25,checkerboard patterns,checkered and polka dot patterns, "
    run_import(published / "DnD__resnet50_imagenet_broden_layer2.csv", method="dnd", fmt="dnd", layer="layer2")

    labels = list(Explanation.objects.filter(neuron__unit=25).order_by("rank").values_list("text", flat=True))

    assert labels == ["checkerboard patterns", "checkered and polka dot patterns"]


def test_dnd_fc_file_gives_1000_explanations(published):
    path = published / "DnD__resnet50_imagenet_broden_fc.csv"

    run_import(path, method="dnd", fmt="dnd", layer="fc")
    run_import(path, method="dnd", fmt="dnd", layer="fc")

    assert Explanation.objects.filter(method__name="dnd", neuron__layer__name="fc", rank=1).count() == 1000
    assert Explanation.objects.count() == 1000


def test_places365_network_has_365_fc_units_and_resnet18_widths(published):
    run_import(published / "MILAN__m_base_resnet18_places365.csv", network="resnet18-places365", method="milan", fmt="milan")

    widths = dict(Layer.objects.values_list("name", "unit_count"))

    assert widths == {"conv1": 64, "layer1": 64, "layer2": 128, "layer3": 256, "layer4": 512}
    assert Explanation.objects.count() == 1024


def test_layer_option_takes_one_layer_of_a_multi_layer_file(published):
    run_import(published / "CLIP_Dissect__resnet50_imagenet_broden.csv", method="clip-dissect-published", fmt="clip-dissect", layer="layer4")

    assert per_layer("clip-dissect-published") == {"layer4": 2048}


def test_plain_csv_with_and_without_score(tmp_path):
    scored = tmp_path / "scored.csv"
    scored.write_text("layer,unit,description,score\nlayer4,7,dog faces,0.8\nlayer4,8,water,\n")
    plain = tmp_path / "plain.csv"
    plain.write_text("layer,unit,description\nlayer3,1,grass\n")

    run_import(scored, method="mine", fmt="csv")
    run_import(plain, method="mine", fmt="csv")

    rows = {e.neuron.unit: (e.text, e.score, e.score_name) for e in Explanation.objects.all()}
    assert rows == {7: ("dog faces", 0.8, "score"), 8: ("water", None, ""), 1: ("grass", None, "")}


def test_reimport_updates_in_place_and_drops_labels_no_longer_in_the_file(tmp_path):
    path = tmp_path / "dnd_layer4.csv"
    path.write_text("Neuron ID,Label 1,Label 2,Label 3\n5,dogs,cats,birds\n")
    run_import(path, method="dnd", fmt="dnd", layer="layer4")
    kept_id = Explanation.objects.get(rank=1).pk

    path.write_text("Neuron ID,Label 1,Label 2,Label 3\n5,puppies,kittens,\n")
    run_import(path, method="dnd", fmt="dnd", layer="layer4")

    assert list(Explanation.objects.order_by("rank").values_list("text", flat=True)) == ["puppies", "kittens"]
    assert Explanation.objects.get(rank=1).pk == kept_id


# -- bad files: a message with file, row and reason, and nothing stored -------------

BAD_FILES = [
    ("missing_column.csv", "clip-dissect", None, "layer,unit,description\nlayer1,0,red\n", "header: missing column(s) similarity"),
    ("unit_too_big.csv", "milan", None, "layer,unit,description\nlayer1,0,red\nlayer1,256,blue\n", "row 2: unit 256 out of range for layer layer1 (256 units)"),
    ("negative_unit.csv", "csv", None, "layer,unit,description\nlayer2,-1,red\n", "row 1: unit -1 out of range"),
    ("empty_description.csv", "milan", None, "layer,unit,description\nlayer1,0,red\nlayer1,1,  \n", "row 2: empty description"),
    ("not_an_integer.csv", "clip-dissect", None, "layer,unit,description,similarity\nconv1,zero,red,0.2\n", "row 1: unit 'zero' is not an integer"),
    ("bad_score.csv", "clip-dissect", None, "layer,unit,description,similarity\nconv1,0,red,high\n", "row 1: similarity 'high' is not a number"),
    ("unknown_layer.csv", "milan", None, "layer,unit,description\nlayer9,0,red\n", "row 1: layer 'layer9' is not a known layer of resnet50"),
    ("duplicate.csv", "milan", None, "layer,unit,description\nconv1,3,red\nconv1,3,blue\n", "row 2: unit 3 of layer conv1 appears twice"),
    ("netdissect_unit0.csv", "netdissect", "layer1", "unit,category,label,score\n0,color,red-c,0.1\n", "row 1: unit 0 out of range: NetDissect-Lite units are 1-based"),
    ("netdissect_too_big.csv", "netdissect", "layer1", "unit,category,label,score\n1,color,red-c,0.1\n257,color,red-c,0.1\n", "row 2: unit 257 out of range for layer layer1 (256 units)"),
    ("dnd_blank_first.csv", "dnd", "layer1", "Neuron ID,Label 1,Label 2,Label 3\n6,stripes,,\n10,,red things,\n", "row 2: empty Label 1"),
    ("header_only.csv", "milan", None, "layer,unit,description\n", ": no explanations in the file"),
    ("dnd_no_labels.csv", "dnd", "layer1", "Neuron ID,description\n6,stripes\n", "header: missing column(s)"),
]


@pytest.mark.parametrize("name, fmt, layer, content, reason", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_fails_naming_file_row_and_reason_and_stores_nothing(tmp_path, name, fmt, layer, content, reason):
    baseline = tmp_path / "baseline_dnd_layer1.csv"
    baseline.write_text("Neuron ID,Label 1,Label 2,Label 3\n6,stripes,zigzags,\n10,red dots,,\n")
    run_import(baseline, method="dnd", fmt="dnd", layer="layer1")
    before = list(Explanation.objects.values_list("pk", "text", "source_file").order_by("pk"))
    neurons_before = Neuron.objects.count()
    path = tmp_path / name
    path.write_text(content)

    with pytest.raises(CommandError) as error:
        run_import(path, method=f"bad-{fmt}", fmt=fmt, layer=layer)

    assert str(path) in str(error.value) and reason in str(error.value)
    assert list(Explanation.objects.values_list("pk", "text", "source_file").order_by("pk")) == before
    assert Neuron.objects.count() == neurons_before
    assert not Method.objects.filter(name=f"bad-{fmt}").exists()


def test_bad_file_for_a_new_network_does_not_create_it(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("layer,unit,description\nlayer1,999,red\n")

    with pytest.raises(ImportFileError, match="row 1"):
        import_explanations(path, "resnet18-imagenet", "milan", "milan")

    assert not Network.objects.exists() and not Layer.objects.exists()


def test_one_layer_formats_need_a_layer_and_unknown_architectures_are_refused(tmp_path):
    dnd = tmp_path / "dnd_fc.csv"
    dnd.write_text("Neuron ID,label\n0,fish\n")
    with pytest.raises(CommandError, match="layer"):
        run_import(dnd, method="dnd", fmt="dnd")
    path = tmp_path / "x.csv"
    path.write_text("layer,unit,description\nconv1,0,red\n")
    with pytest.raises(CommandError, match="architecture"):
        run_import(path, network="mystery-net", method="milan", fmt="milan")
    assert not Network.objects.exists()


@pytest.mark.parametrize("fmt, layer", [("milan", None), ("dnd", "layer1"), ("netdissect", "layer1")])
def test_missing_or_unreadable_file_is_a_clear_error(tmp_path, fmt, layer):
    with pytest.raises(CommandError, match="nope.csv: file not found"):
        run_import(tmp_path / "nope.csv", method="m", fmt=fmt, layer=layer)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00layer,unit\n")
    with pytest.raises(CommandError, match="binary.csv: not UTF-8 text"):
        run_import(binary, method="m", fmt=fmt, layer=layer)


@pytest.mark.django_db
def test_import_refuses_a_method_name_that_is_not_a_slug(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("layer,unit,description\nlayer1,0,dog\n")
    with pytest.raises(ImportFileError, match="method name '<img src=x onerror=alert.1.>' is not a slug"):
        import_explanations(path, "any-net", "<img src=x onerror=alert(1)>", "clip-dissect")
    assert not Method.objects.exists() and not Network.objects.exists()
