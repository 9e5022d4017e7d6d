from io import StringIO

import numpy as np
import pytest
import torch
from django.core.management import CommandError, call_command
from PIL import Image
from torchvision import transforms

from explain.models import Network
from explain.network_services import add_network, list_layers
from explain.networks import NetworkError, load_network, weights_preprocessing


def test_imagenet_classifiers_expect_resize_256_then_center_crop_224():
    spec = weights_preprocessing("resnet34")

    assert (spec["resize"], spec["crop"], spec["interpolation"]) == (256, 224, "bilinear")
    assert spec["mean"] == pytest.approx([0.485, 0.456, 0.406]) and spec["std"] == pytest.approx([0.229, 0.224, 0.225])


def test_weights_not_from_torchvision_take_the_classic_v1_recipe_that_the_reference_code_uses():
    # ResNet-50's DEFAULT is IMAGENET1K_V2 (resize 232); the CLIP-Dissect / DnD code preprocess every ResNet with V1
    assert weights_preprocessing("resnet50", "random:0")["resize"] == 256
    assert weights_preprocessing("resnet50", "weights/resnet50.pth")["resize"] == 256
    assert weights_preprocessing("resnet50", "torchvision:IMAGENET1K_V2")["resize"] == 232
    assert weights_preprocessing("resnet50", "torchvision:IMAGENET1K_V1")["resize"] == 256


@pytest.mark.django_db
def test_a_network_preprocesses_as_its_weights_expect_unless_overridden():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8))
    normalise = transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    cropped = add_network("cropped", "resnet18", "random:0")
    squashed = add_network("squashed", "resnet18", "random:0", preprocessing={"squash": 224})

    _, preprocess = load_network(cropped)
    _, squash = load_network(squashed)

    expected = normalise(transforms.ToTensor()(transforms.CenterCrop(224)(transforms.Resize(256)(image))))
    assert torch.allclose(preprocess(image), expected, atol=1e-6)
    expected_squash = normalise(transforms.ToTensor()(transforms.Resize((224, 224))(image)))
    assert torch.allclose(squash(image), expected_squash, atol=1e-6)


@pytest.mark.django_db
def test_torchvision_weights_give_their_class_names_without_a_download():
    network = add_network("rn34-imagenet", "resnet34", "torchvision:IMAGENET1K_V1")

    assert len(network.class_names) == 1000 and network.class_names[0] == "tench"
    assert network.weights_source == "torchvision:IMAGENET1K_V1"


@pytest.mark.django_db
def test_random_weights_may_borrow_a_torchvision_enums_class_names():
    network = add_network("rn34", "resnet34", "random:0", class_names="torchvision:IMAGENET1K_V1")

    assert network.class_names[:2] == ["tench", "goldfish"]


@pytest.mark.django_db
def test_any_torchvision_classifier_by_name_runs_and_lists_its_layers():
    network = add_network("small", "squeezenet1_1", "random:1")

    layers = {layer.name: layer for layer in list_layers(network)}

    assert layers["features.12"].units == 512 and layers["features.12"].map_size == (13, 13)


@pytest.mark.django_db
def test_a_timm_model_uses_its_pretrained_config_for_preprocessing():
    network = add_network("timm-rn18", "timm:resnet18", "random:0")
    model, preprocess = load_network(network)

    assert network.architecture == "timm:resnet18"
    assert preprocess(Image.new("RGB", (320, 320))).shape == (3, 224, 224)
    assert weights_preprocessing("timm:resnet18", model=model)["resize"] == int(224 / 0.95)


@pytest.mark.django_db
def test_state_dict_file_with_class_names_file(tmp_path):
    from torchvision.models import resnet18

    torch.manual_seed(0)
    weights = tmp_path / "places.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in resnet18(num_classes=3).state_dict().items()}}, weights)
    names = tmp_path / "classes.txt"
    names.write_text("beach\n\nforest\nkitchen\n")

    with pytest.raises(NetworkError, match="2 class names given, but the network has 3 outputs"):
        add_network("places", "resnet18", str(weights), class_names=["beach", "forest"])
    network = add_network("places", "resnet18", str(weights), class_names=str(names))

    assert network.class_names == ["beach", "forest", "kitchen"]
    loaded, _ = load_network("places")
    assert loaded.fc.out_features == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(architecture="resnet999", weights="random:0"), "unknown architecture 'resnet999'"),
        (dict(architecture="resnet18", weights="random:x"), "whole-number seed"),
        (dict(architecture="resnet18", weights="torchvision:NOPE"), "no torchvision weights 'NOPE'"),
        (dict(architecture="resnet18", weights="/no/such/file.pt"), "no such file"),
        (dict(architecture="timm:resnet18", weights="torchvision:IMAGENET1K_V1"), "need a torchvision architecture"),
        (dict(architecture="resnet18", weights="random:0", preprocessing={"resize": 256, "squash": 224}), "exactly one"),
        (dict(architecture="resnet18", weights="random:0", preprocessing={"resize": "big"}), "positive whole number"),
    ],
)
def test_bad_registrations_are_refused_with_the_reason_and_store_nothing(kwargs, message):
    with pytest.raises(NetworkError, match=message):
        add_network("bad", **kwargs)
    assert not Network.objects.exists()


@pytest.mark.django_db
def test_command_adds_the_network_and_lists_its_layers():
    out = StringIO()

    call_command("add_network", "rn34", "--architecture", "resnet34", "--weights", "random:0", "--list-layers", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("added network rn34: resnet34, weights random:0")
    assert "layer4\tSequential\t512 units, 7x7" in lines
    assert Network.objects.get(name="rn34").preprocessing == {}


@pytest.mark.django_db
def test_command_lists_an_existing_networks_layers_and_refuses_a_duplicate_or_bad_input(tmp_path):
    add_network("rn18", "resnet18", "random:0")
    out = StringIO()
    call_command("add_network", "rn18", "--list-layers", stdout=out)
    assert "layer3\tSequential\t256 units, 14x14" in out.getvalue().splitlines()

    with pytest.raises(CommandError, match="already exists"):
        call_command("add_network", "rn18", "--architecture", "resnet18", "--weights", "random:0")
    with pytest.raises(CommandError, match="--preprocessing is not valid JSON"):
        call_command("add_network", "x", "--architecture", "resnet18", "--weights", "random:0", "--preprocessing", "{")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(CommandError, match="has no names"):
        call_command("add_network", "x", "--architecture", "resnet18", "--weights", "random:0", "--class-names", str(empty))
    assert list(Network.objects.values_list("name", flat=True)) == ["rn18"]
