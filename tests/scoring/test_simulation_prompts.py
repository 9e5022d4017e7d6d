"""The simulator's prompts, pinned for one fixed unit."""
from explain.methods.tellme_prompts import FewShotUnit, Pair
from scoring.simulation_prompts import build_simulation_messages, simulation_system_prompt

TARGET = [Pair("a cat on a sofa", 0.5), Pair("a dog\tin the\nsnow", 2.0), Pair("a red car", 4.0)]
EXAMPLE = FewShotUnit(
    explanation="the main thing this neuron does is find wheels.",
    pairs=[Pair("a bicycle", 3.0), Pair("a plate of food", -1.0)],
)


def test_simulation_prompt_for_a_fixed_unit_marks_unknown_activations_with_unk():
    messages = build_simulation_messages("red cars", [p.description for p in TARGET], [EXAMPLE], kind="caption")
    assert messages == [
        {"role": "system", "content": simulation_system_prompt("caption")},
        {
            "role": "user",
            "content": "\n\nNeuron 1\nExplanation of neuron 1 behavior: the main thing this neuron does is find wheels",
        },
        {"role": "assistant", "content": "\nActivations:\n<start>\na bicycle\t10\na plate of food\t0\n<end>\n"},
        {
            "role": "user",
            "content": "\n\nNeuron 2\nExplanation of neuron 2 behavior: the main thing this neuron does is find red cars"
            "\nActivations:\n<start>\na cat on a sofa\tunk\na dog in the snow\tunk\na red car\tunk\n<end>\n"
            "Repeat every line between <start> and <end> in the same order, replacing unk with your "
            "predicted activation (an integer from 0 to 10).",
        },
    ]
    assert '"unk" marks an activation you have to predict' in messages[0]["content"]


def test_weight_simulation_prompt_names_classes_and_weights():
    assert "the weight from the neuron to that class" in simulation_system_prompt("class")
