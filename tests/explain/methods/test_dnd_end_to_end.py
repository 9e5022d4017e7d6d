"""Describe-and-Dissect end to end with tiny foundation models on a few units of the demo CNN."""
import hashlib

import pytest

import foundation
from explain.activations import get_activation_cache
from explain.methods import get_method
from explain.methods.base import MethodInput
from explain.methods.dnd_prompts import SIMPLIFY_EXAMPLE_QUESTION
from explain.models import Layer, Network, ProbeDataset, ProbeImage
from explain.probes import get_probe_set
from demo.synthetic import SyntheticConfig, ensure_synthetic_probe
from tests.fakes.played_openai import ChatServer
from tests.fakes.tiny_models import tiny_blip_captioner, tiny_clip_embedder, tiny_text_to_image

CONCEPTS = ["red squares", "blue circles", "green stripes", "bright textures", "checkered graphics"]


def answer_like_an_llm(body):
    """Deterministic answers: a label picked by the prompt and its sampling seed, sometimes a list to resummarise."""
    messages = body["messages"]
    digest = int(hashlib.sha256((messages[-1]["content"] + str(body.get("seed"))).encode()).hexdigest(), 16)
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
def demo(tmp_path, tiny_models, settings):
    """The demo CNN (random weights: training takes minutes) on a small synthetic probing set, as the engine records it."""
    settings.VAR_DIR = tmp_path / "var"
    network = Network.objects.create(name="demo-cnn", architecture="demo-cnn", weights_source="random:0")
    layer = Layer.objects.create(network=network, name="conv3", unit_count=64)
    dataset = ensure_synthetic_probe("tiny-shapes", seed=0, config=SyntheticConfig(n_images=24))
    cache = get_activation_cache(network, dataset, "conv3", top_k=4, batch_size=24)
    server = ChatServer(answer_like_an_llm)
    models = dict(tiny_models, llm=server.llm(cache_dir=tmp_path / "llm-cache"))
    inputs = MethodInput(
        network=network, layer=layer, probe=get_probe_set(dataset), activations=cache,
        params={"top_k": 4, "images_per_concept": 3, "beta": 2, "image_products_top": 4},
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
    assert any(len(unit_records) == 3 for unit_records in by_unit.values())
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
    # Unit order and how units are grouped for generation change nothing.
    inputs.params["generation_group_images"] = 1
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
    inputs.params.update(multiple_labels=True, label_similarity_limit=-1.0)
    records = get_method("dnd").explain(inputs, units=[4])
    # With a limit below every similarity, only the best label survives.
    assert len(records[0].details["candidates"]) > 1
    assert len(records) == 1
    assert records[0].text == records[0].details["labels"][0]


def test_unknown_scoring_function_is_named():
    from explain.methods.dnd import DnDConfig

    with pytest.raises(ValueError, match="unknown DnD scoring function 'best'"):
        DnDConfig(scoring="best")


@pytest.mark.django_db
def test_dnd_through_the_explain_job_stores_labels_and_intermediates(demo):
    from explain.jobs import run_explain_job
    from explain.models import Explanation, Job

    inputs, server, dataset = demo
    job = run_explain_job(network="demo-cnn", probe=dataset.name, layers=["conv1"], methods=["dnd"], top_k=4,
                          show_progress=False, method_params_by_name={"dnd": {
                              "top_k": 4, "images_per_concept": 2, "beta": 2, "image_products_top": 4}})
    assert job.status == Job.Status.SUCCEEDED
    stored = Explanation.objects.filter(job=job, method__name="dnd", neuron__layer__name="conv1")
    assert set(stored.values_list("neuron__unit", flat=True)) == set(range(16))  # every unit of conv1 labelled
    first = stored.get(neuron__unit=0, rank=1)
    assert first.score_name == "topk-squared+image-products"
    assert first.text == first.details["labels"][0]
    assert len(first.details["concepts"][0]["generated_images"]) == 2
