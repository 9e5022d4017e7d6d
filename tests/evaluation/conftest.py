"""Small explicit fixtures: a network with two layers, a probing set of tiny generated
PNGs, top images, three methods with explanations, and a study over them."""
import io

import pytest
from django.core.files.base import ContentFile
from PIL import Image, ImageDraw

from evaluation.services import create_study, invite_raters
from explain.models import Explanation, Layer, Method, Network, Neuron, ProbeDataset, ProbeImage, TopImage

PALETTE = ["#d94f45", "#3f8fd2", "#4caf50", "#f2b134", "#8e5cc4", "#2bb3a6", "#ef7d3c", "#5b6770", "#c2417f", "#9acd32"]
METHOD_NAMES = ["netdissect", "clip-dissect-annotations", "shuffled-control"]


def tiny_png(index: int, size: int = 48) -> bytes:
    """A coloured shape on a light background, different for every index."""
    image = Image.new("RGB", (size, size), "#f4f1ea")
    draw = ImageDraw.Draw(image)
    colour = PALETTE[index % len(PALETTE)]
    margin = 6 + index % 5
    if index % 3 == 0:
        draw.ellipse([margin, margin, size - margin, size - margin], fill=colour)
    elif index % 3 == 1:
        draw.rectangle([margin, margin, size - margin, size - margin], fill=colour)
    else:
        draw.polygon([(size // 2, margin), (size - margin, size - margin), (margin, size - margin)], fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def build_explained_network(layers=("layer1", "layer2"), units_per_layer=6, images=12, top_k=10, texts=None, image_size=48):
    """Network, probe images, top images and one rank-1 explanation per method for every unit."""
    network = Network.objects.create(name="tiny-cnn", architecture="demo-cnn")
    dataset = ProbeDataset.objects.create(name="tiny-probe", kind=ProbeDataset.Kind.SYNTHETIC, seed=0)
    probe_images = []
    for index in range(images):
        probe_image = ProbeImage(dataset=dataset, index=index)
        probe_image.image.save(f"tiny-{index}.png", ContentFile(tiny_png(index, image_size)), save=False)
        probe_image.save()
        probe_images.append(probe_image)
    methods = [Method.objects.create(name=name, display_name=name.title()) for name in METHOD_NAMES]
    for order, layer_name in enumerate(layers):
        layer = Layer.objects.create(network=network, name=layer_name, order=order, unit_count=units_per_layer)
        neurons = Neuron.objects.bulk_create(Neuron(layer=layer, unit=unit) for unit in range(units_per_layer))
        TopImage.objects.bulk_create(
            TopImage(neuron=neuron, dataset=dataset, image=probe_images[(neuron.unit + rank) % images], rank=rank,
                     activation=float(top_k - rank))
            for neuron in neurons
            for rank in range(top_k)
        )
        Explanation.objects.bulk_create(
            Explanation(method=method, neuron=neuron, rank=1,
                        text=(texts or {}).get(method.name, f"{method.name} says {layer_name} unit {neuron.unit}"))
            for neuron in neurons
            for method in methods
        )
    return network


@pytest.fixture
def explained_network(db):
    return build_explained_network()


@pytest.fixture
def small_study(explained_network):
    return create_study(
        "small", network=explained_network, methods=METHOD_NAMES, layers=["layer1", "layer2"], per_layer=3, seed=0
    )


@pytest.fixture
def rater(small_study):
    return invite_raters(small_study, 1)[0]
