"""Describe-and-Dissect end to end with tiny foundation models on a few units of a small CNN."""
import hashlib
import io

import numpy as np
import pytest
import torch
from django.core.files.base import ContentFile
from PIL import Image, ImageDraw
from torchvision import transforms

from explain import foundation
from explain.methods import get_method
from explain.methods.base import MethodInput
from explain.methods.dnd_prompts import SIMPLIFY_EXAMPLE_QUESTION
from explain.methods.dnd_target import TargetActivations
from explain.models import Layer, Network, ProbeDataset, ProbeImage
from explain.foundation.tiny import ChatServer, tiny_blip_captioner, tiny_clip_embedder, tiny_text_to_image

CONCEPTS = ["red squares", "blue circles", "green stripes", "bright textures", "checkered graphics"]


class SmallCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = torch.nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(6, 8, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv2(torch.relu(self.conv1(x))).relu()


class ArrayCache:
    """The activation cache as methods see it, from one pass of the CNN over the probe images."""

    def __init__(self, model, images, image_ids, layer_name):
        captured = []
        hook = model.get_submodule(layer_name).register_forward_hook(lambda m, i, o: captured.append(o.detach()))
        with torch.no_grad():
            model(torch.stack([PREPROCESS(image) for image in images]))
        hook.remove()
        self._maps = captured[0].numpy()
        self.layer_name, self.unit_count, self.image_ids = layer_name, self._maps.shape[1], list(image_ids)

    def summaries(self):
        return self._maps.mean(axis=(2, 3))

    def maps(self):
        return self._maps

    def top_indices(self, k):
        return np.argsort(-self.summaries(), axis=0, kind="stable")[:k].T


class ListProbe:
    def __init__(self, name, images, image_ids):
        self.name, self._images, self.image_ids = name, images, image_ids
        self.concept_names, self.concept_categories = [], []

    def load_image(self, row):
        return self._images[row]


PREPROCESS = transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])


def shapes_image(seed):
    rng = np.random.RandomState(seed)
    image = Image.new("RGB", (48, 48), tuple(int(v) for v in rng.randint(0, 80, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(2):
        x, y, size = rng.randint(0, 36), rng.randint(0, 36), rng.randint(6, 14)
        draw.rectangle([x, y, x + size, y + size], fill=tuple(int(v) for v in rng.randint(60, 255, 3)))
    return image


def answer_like_an_llm(body):
    """Deterministic answers: a label picked by the prompt's content, sometimes a list to resummarise."""
    messages = body["messages"]
    digest = int(hashlib.sha256(messages[-1]["content"].encode()).hexdigest(), 16)
    if len(messages) == 1:
        return "Concept: mixed shapes"
    if messages[0]["content"] == SIMPLIFY_EXAMPLE_QUESTION:
        return ["A red square", "A blue blob", "Green lines"][digest % 3]
    if digest % 4 == 0:
        return "red squares, blue circles"
    return CONCEPTS[digest % len(CONCEPTS)] + "."


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-models")
    return dict(captioner=tiny_blip_captioner(folder), clip=tiny_clip_embedder(), text_to_image=tiny_text_to_image(folder))


@pytest.fixture
def demo(tmp_path, tiny_models):
    network = Network.objects.create(name="small-cnn", architecture="test")
    layer = Layer.objects.create(network=network, name="conv2", unit_count=8)
    dataset = ProbeDataset.objects.create(name="shapes", kind=ProbeDataset.Kind.SYNTHETIC)
    images, ids = [], []
    for index in range(8):
        image = shapes_image(index)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        row = ProbeImage(dataset=dataset, index=index)
        row.image.save(f"shapes/{index}.png", ContentFile(buffer.getvalue()), save=True)
        images.append(image)
        ids.append(row.pk)
    model = SmallCNN().eval()
    server = ChatServer(answer_like_an_llm)
    models = dict(tiny_models, llm=server.llm(cache_dir=tmp_path / "llm-cache"))
    inputs = MethodInput(
        network=network, layer=layer, probe=ListProbe("shapes", images, ids),
        activations=ArrayCache(model, images, ids, "conv2"),
        params={"target": TargetActivations(model, PREPROCESS, "conv2", batch_size=16),
                "dnd": {"top_k": 4, "images_per_concept": 3, "beta": 2, "image_products_top": 4}},
    )
    with foundation.override(**models):
        yield inputs, server, dataset


@pytest.mark.django_db
def test_dnd_labels_units_and_stores_every_intermediate(demo):
    inputs, server, probe_dataset = demo
    records = get_method("dnd").explain(inputs, units=[0, 3, 5])

    by_unit = {unit: [r for r in records if r.unit == unit] for unit in (0, 3, 5)}
    for unit, unit_records in by_unit.items():
        details = unit_records[0].details
        assert [r.rank for r in unit_records] == list(range(1, len(unit_records) + 1)) and len(unit_records) <= 3
        assert [r.text for r in unit_records] == details["labels"]
        assert set(details["labels"]) <= set(details["candidates"])
        assert unit_records[0].score_name == "topk-squared+image-products"
        # step 1: the K top images over originals and crops, crops stored as derived probe images
        assert len(details["top_images"]) == 4
        assert details["crops"], f"unit {unit} got no attention crop"
        for crop in details["crops"]:
            row = ProbeImage.objects.get(pk=crop["probe_image"])
            assert row.parent_id == crop["parent"] and row.dataset.kind == ProbeDataset.Kind.GENERATED
            assert row.image.storage.exists(row.image.name)
        # step 2: captions, simplified captions, N = 5 summaries, cleaned candidates
        assert all(entry["caption"] and entry["simplified"] for entry in details["top_images"])
        assert len(details["summaries"]) == 5
        assert all(c == c.lower() and not c.endswith(".") for c in details["candidates"])
        # step 3: Q generated images per candidate with their activations, ranks and all four scores
        assert [c["concept"] for c in details["concepts"]] == details["candidates"]
        for concept in details["concepts"]:
            assert concept["prompt"] == f"One realistic image of {concept['concept']}"
            assert len(concept["generated_images"]) == len(concept["activations"]) == len(concept["seeds"]) == 3
            assert set(concept["scores"]) == {"mean", "topk-squared", "image-products", "topk-squared+image-products"}
            assert ProbeImage.objects.get(pk=concept["generated_images"][0]).caption == concept["prompt"]
        all_ranks = sorted(rank for concept in details["concepts"] for rank in concept["ranks"])
        assert all_ranks == list(range(3 * len(details["candidates"])))
    # vague endings get a "background" variant when the LLM proposes them
    graphics = [c for r in records if r.rank == 1 for c in r.details["candidates"] if c.endswith("graphics")]
    for concept in graphics:
        assert any(c == f"{concept} background" for r in records if r.rank == 1 for c in r.details["candidates"])


@pytest.mark.django_db
def test_dnd_llm_saw_the_papers_prompts_and_few_shot_examples(demo):
    inputs, server, _ = demo
    get_method("dnd").explain(inputs, units=[1])
    summaries = [r for r in server.requests if len(r["messages"]) == 5]
    simplifications = [r for r in server.requests if len(r["messages"]) == 3]
    assert len(summaries) == 5 and simplifications
    assert [m["content"] for m in summaries[0]["messages"] if m["role"] == "assistant"] == [
        "multicolored textiles", "red-themed scenes"]
    assert summaries[0]["messages"][0]["content"].endswith(
        "a beige background with a rough texture and a very soft texture.")
    assert summaries[0]["messages"][4]["content"].startswith(
        "Only state your answer without a period and quotation marks and do not simply repeat the descriptions.")
    assert simplifications[0]["messages"][1] == {"role": "assistant", "content": "A red background"}
    assert all(r["temperature"] == 0.3 for r in server.requests)


@pytest.mark.django_db
def test_dnd_two_runs_give_the_same_labels_and_the_rerun_costs_no_request(demo):
    inputs, server, _ = demo
    first = get_method("dnd").explain(inputs, units=[2, 6])
    requests_after_first = len(server.requests)
    generated_rows = ProbeImage.objects.filter(dataset__kind=ProbeDataset.Kind.GENERATED).count()
    second = get_method("dnd").explain(inputs, units=[6, 2])
    assert [(r.unit, r.rank, r.text, r.score) for r in first] == [(r.unit, r.rank, r.text, r.score) for r in second]
    assert len(server.requests) == requests_after_first  # every answer came from the cache
    assert ProbeImage.objects.filter(dataset__kind=ProbeDataset.Kind.GENERATED).count() == generated_rows


@pytest.mark.django_db
def test_dnd_without_step3_returns_the_first_candidate_and_generates_nothing(demo):
    inputs, server, _ = demo
    with foundation.override(text_to_image=None):
        records = get_method("dnd-without-step3").explain(inputs, units=[0])
    assert len(records) == 1
    assert records[0].text == records[0].details["candidates"][0]
    assert records[0].details["concepts"] == []


@pytest.mark.django_db
def test_dnd_multiple_label_mode_drops_labels_too_similar_to_a_kept_one(demo):
    inputs, server, _ = demo
    inputs.params["dnd"].update(multiple_labels=True, label_similarity_limit=-1.0)
    records = get_method("dnd").explain(inputs, units=[4])
    # With a limit below every similarity, only the best label survives.
    assert len(records) == 1
    assert records[0].text == records[0].details["labels"][0]


def test_unknown_scoring_function_is_named():
    from explain.methods.dnd import DnDConfig

    with pytest.raises(ValueError, match="unknown DnD scoring function 'best'"):
        DnDConfig(scoring="best")
