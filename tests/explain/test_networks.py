import pytest
import torch

from explain.activations import layer_maps, unit_activations
from explain.models import Network
from explain.networks import NetworkError, get_layer, load_network

# (architecture, layer, input size, expected (units, h, w) of that layer)
ARCHITECTURES = [
    ("resnet18", "layer3", 64, (256, 4, 4)),
    ("resnet50", "layer4", 64, (2048, 2, 2)),
    ("resnet152", "layer2", 64, (512, 8, 8)),
    ("alexnet", "features.10", 64, (256, 3, 3)),
    ("alexnet", "classifier.4", 64, (4096, 1, 1)),
    ("demo-cnn", "conv2", 64, (32, 16, 16)),
]


@pytest.mark.django_db
@pytest.mark.parametrize("architecture,layer,size,expected", ARCHITECTURES)
def test_registry_builds_each_architecture_and_reads_a_layer_by_name(architecture, layer, size, expected):
    network = Network.objects.create(name=f"random-{architecture}", architecture=architecture, weights_source="random:0")
    model, preprocess = load_network(network.name)
    assert not model.training
    images = torch.randn(1, 3, size, size)
    maps = layer_maps(model, layer, images)
    assert maps.shape == (1, *expected)
    summaries = unit_activations(model, layer, images)
    assert summaries.shape == (1, expected[0])
    assert torch.allclose(torch.from_numpy(summaries), torch.from_numpy(maps).mean(dim=(2, 3)), atol=1e-5)


@pytest.mark.django_db
def test_vit_block_units_are_hidden_dimensions_summarised_over_patch_tokens_without_the_class_token():
    Network.objects.create(name="vit", architecture="vit_b_16", weights_source="random:0")
    model, _ = load_network("vit")
    layer = "encoder.layers.encoder_layer_11"
    captured = {}
    handle = get_layer(model, layer).register_forward_hook(lambda _m, _i, output: captured.setdefault("tokens", output))
    images = torch.randn(1, 3, 224, 224)
    maps = layer_maps(model, layer, images)
    handle.remove()
    tokens = captured["tokens"]  # (1, 197, 768): class token first
    assert maps.shape == (1, 768, 14, 14)
    assert torch.allclose(torch.from_numpy(maps).mean(dim=(2, 3)), tokens[:, 1:, :].mean(dim=1), atol=1e-5)
    # Patch (row 0, column 1) is token 2.
    assert torch.allclose(torch.from_numpy(maps[0, :, 0, 1]), tokens[0, 2], atol=1e-6)


@pytest.mark.django_db
def test_state_dict_file_is_loaded_relative_to_the_var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    Network.objects.create(name="a", architecture="demo-cnn", weights_source="random:7")
    reference, _ = load_network("a")
    torch.save(reference.state_dict(), tmp_path / "weights.pt")
    Network.objects.create(name="b", architecture="demo-cnn", weights_source="weights.pt")
    loaded, preprocess = load_network("b")
    images = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(loaded(images), reference(images))


@pytest.mark.django_db
def test_unloadable_networks_and_layers_are_named_in_the_error(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    Network.objects.create(name="missing", architecture="resnet18", weights_source="nowhere.pt")
    Network.objects.create(name="imported", architecture="resnet50", weights_source="")
    Network.objects.create(name="enum", architecture="resnet18", weights_source="torchvision:NOT_A_WEIGHT")
    Network.objects.create(name="small", architecture="demo-cnn", weights_source="random:0")
    with pytest.raises(NetworkError, match="nowhere.pt does not exist"):
        load_network("missing")
    with pytest.raises(NetworkError, match="imported explanations only"):
        load_network("imported")
    with pytest.raises(NetworkError, match="no torchvision weights 'NOT_A_WEIGHT'.*IMAGENET1K_V1"):
        load_network("enum")
    with pytest.raises(NetworkError, match="no network named 'ghost'"):
        load_network("ghost")
    model, _ = load_network("small")
    with pytest.raises(NetworkError, match="no layer 'layer4'; top-level layers: conv1, conv2, conv3, conv4, pool, fc"):
        get_layer(model, "layer4")
