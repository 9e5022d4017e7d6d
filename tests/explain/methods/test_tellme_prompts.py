"""The LLM explainers' prompts, pinned for one fixed unit."""
from explain.methods.tellme_prompts import (
    FewShotUnit,
    Pair,
    build_explanation_messages,
    explanation_system_prompt,
    scale_to_0_10,
    strip_explanation_prefix,
)

TARGET = [Pair("a cat on a sofa", 0.5), Pair("a dog\tin the\nsnow", 2.0), Pair("a red car", 4.0)]
EXAMPLE = FewShotUnit(
    explanation="the main thing this neuron does is find wheels.",
    pairs=[Pair("a bicycle", 3.0), Pair("a plate of food", -1.0)],
)


def test_scaling_floors_to_integers_from_0_to_10_with_negatives_at_0():
    assert [scale_to_0_10(v, 4.0) for v in (4.0, 3.99, 2.0, 0.39, -1.0)] == [10, 9, 5, 0, 0]
    assert scale_to_0_10(1.0, 0.0) == 0


def test_explanation_prompt_for_a_fixed_unit_is_exactly_the_paper_format():
    messages = build_explanation_messages(TARGET, [EXAMPLE], kind="caption")
    assert messages == [
        {"role": "system", "content": explanation_system_prompt("caption")},
        {
            "role": "user",
            "content": "\n\nNeuron 1\nActivations:\n<start>\na bicycle\t10\na plate of food\t0\n<end>\n"
            "Explanation of neuron 1 behavior: the main thing this neuron does is find",
        },
        {"role": "assistant", "content": " wheels."},
        {
            "role": "user",
            "content": "\n\nNeuron 2\nActivations:\n<start>\na cat on a sofa\t1\na dog in the snow\t5\na red car\t10\n<end>\n"
            "Explanation of neuron 2 behavior: the main thing this neuron does is find",
        },
    ]
    assert "description<tab>activation" in messages[0]["content"]


def test_weight_prompts_name_classes_and_weights():
    assert "the name of an output class" in explanation_system_prompt("class")
    assert "the weight from the neuron to that class" in explanation_system_prompt("class")


def test_explanation_prefix_and_final_full_stop_are_stripped():
    assert strip_explanation_prefix(" the main thing this neuron does is find dogs in snow.\nmore") == "dogs in snow"
    assert strip_explanation_prefix("striped textures") == "striped textures"
