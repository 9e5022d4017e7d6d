"""The Caption-Activation explainer end to end over a played LLM, with the few-shot source recorded."""
import numpy as np
import pytest

import foundation
from explain.methods import get_method
from explain.methods.base import MethodInput
from explain.methods.tellme import strongest_pairs_weakest_first
from explain.methods.tellme_prompts import FewShotUnit, Pair, build_explanation_messages
from explain.models import Explanation, FewShotExample, Layer, Method, Network, Neuron, ProbeDataset, ProbeImage
from explain.probes import StoredProbeSet
from tests.fakes.played_openai import ChatServer

CAPTIONS = ["a red car", "a blue sky", "a dog", "a cat", "a red bus"]
# (images, units): unit 0 likes red things, unit 1 animals, unit 2 the sky
ACTIVATIONS = np.array(
    [[9.0, 0.0, 1.0], [0.5, 0.1, 8.0], [0.0, 7.0, 0.0], [0.2, 6.0, 0.3], [8.0, 0.0, 0.5]], dtype=np.float32
)


class Cache:
    layer_name = "conv"
    unit_count = 3

    def __init__(self, image_ids):
        self.image_ids = image_ids

    def summaries(self):
        return ACTIVATIONS


@pytest.fixture
def unit_inputs(db):
    network = Network.objects.create(name="toy", architecture="demo-cnn")
    layer = Layer.objects.create(network=network, name="conv", unit_count=3)
    dataset = ProbeDataset.objects.create(name="toy-probe", kind="folder")
    for index, caption in enumerate(CAPTIONS):
        ProbeImage.objects.create(dataset=dataset, index=index, image=f"probes/{index}.png", caption=caption)
    probe = StoredProbeSet(dataset)
    return MethodInput(network=network, layer=layer, probe=probe, activations=Cache(probe.image_ids), params={"pairs": 3})


def test_pairs_are_the_strongest_shown_weakest_first():
    values = np.array([0.1, 5.0, -2.0, 3.0])
    pairs = strongest_pairs_weakest_first(values, list("abcd"), 3, positive_only=True)
    assert pairs == [(0, Pair("a", 0.1)), (3, Pair("d", 3.0)), (1, Pair("b", 5.0))]
    assert [i for i, _ in strongest_pairs_weakest_first(values, list("abcd"), 4, positive_only=True)] == [0, 3, 1]


def test_caption_activation_prompt_uses_hand_labelled_examples_and_records_them(unit_inputs):
    FewShotExample.objects.create(layer=unit_inputs.layer, unit=1, kind="caption", explanation="animals")
    FewShotExample.objects.create(layer=unit_inputs.layer, unit=2, kind="caption", explanation="the sky")
    server = ChatServer(lambda body: " red vehicles.")
    with foundation.override(llm=server.llm()):
        records = get_method("gpt-caption-activation").explain(unit_inputs, [0])

    expected_messages = build_explanation_messages(
        [Pair("a blue sky", 0.5), Pair("a red bus", 8.0), Pair("a red car", 9.0)],
        [
            FewShotUnit("animals", [Pair("a blue sky", 0.1), Pair("a cat", 6.0), Pair("a dog", 7.0)]),
            FewShotUnit("the sky", [Pair("a red bus", 0.5), Pair("a red car", 1.0), Pair("a blue sky", 8.0)]),
        ],
        kind="caption",
    )
    assert server.requests[0]["messages"] == expected_messages
    assert [(r.unit, r.text) for r in records] == [(0, "red vehicles")]
    details = records[0].details
    assert details["few_shot_source"] == "hand-labelled" and details["few_shot_units"] == [1, 2]
    assert details["caption_source"] == "stored"
    assert [p[1] for p in details["pairs"]] == ["a blue sky", "a red bus", "a red car"]


def test_without_hand_labels_another_methods_explanations_are_the_examples(unit_inputs):
    method = Method.objects.create(name="netdissect")
    for unit, text in ((1, "dog"), (2, "sky")):
        neuron = Neuron.objects.create(layer=unit_inputs.layer, unit=unit)
        Explanation.objects.create(method=method, neuron=neuron, text=text)
    server = ChatServer(lambda body: "the main thing this neuron does is find red things.")
    with foundation.override(llm=server.llm()):
        records = get_method("gpt-caption-activation").explain(unit_inputs, [0])
    assert records[0].text == "red things"
    assert records[0].details["few_shot_source"] == "method:netdissect"
    assert "\nAssistant" not in server.requests[0]["messages"][2]["content"]
    assert server.requests[0]["messages"][2] == {"role": "assistant", "content": " dog."}


def test_with_no_examples_at_all_it_runs_zero_shot_and_says_so(unit_inputs):
    server = ChatServer(lambda body: " animals.")
    with foundation.override(llm=server.llm()):
        records = get_method("gpt-caption-activation").explain(unit_inputs, [1])
    assert records[0].details["few_shot_source"] == "none"
    assert len(server.requests[0]["messages"]) == 2


def test_images_without_stored_captions_are_captioned_once_across_calls(unit_inputs, settings, tmp_path):
    from explain.methods.tellme import image_captions

    settings.VAR_DIR = tmp_path / "var"
    ProbeImage.objects.filter(index=1).update(caption="")
    probe = StoredProbeSet(unit_inputs.probe.dataset)

    class CountingCaptioner:
        name = "counting/captioner"

        def caption(self, images):
            self.asked.append(len(images))
            return [f"caption {len(self.asked)}.{i}" for i in range(len(images))]

        def __init__(self):
            self.asked = []

    captioner = CountingCaptioner()
    probe.load_image = lambda row: f"image {row}"  # the stored files are placeholders here
    first, source = image_captions(probe, [0, 1, 2], captioner)
    again, _ = image_captions(probe, [2, 1, 3], captioner)
    assert source == "captioner:counting/captioner"
    assert captioner.asked == [3, 1]  # the second call only captioned the new image
    assert again[1] == first[1] and again[2] == first[2]
