from collections import Counter

import numpy as np
import pytest

from explain.methods import get_method
from explain.methods.base import MethodInput
from explain.methods.shuffled_control import draw_donors, layer_rng
from explain.models import Explanation, Layer, Method, Network, Neuron

UNITS = range(12)


def test_every_target_gets_another_unit_as_donor():
    donors = draw_donors(UNITS, UNITS, np.random.default_rng(0))

    assert sorted(donors) == list(UNITS)
    assert all(donor != unit and donor in UNITS for unit, donor in donors.items())


def test_donors_are_spread_over_the_layer_not_fixed():
    rng = np.random.default_rng(0)
    picked = Counter(donor for _ in range(200) for donor in draw_donors([0], range(5), rng).values())

    assert set(picked) == {1, 2, 3, 4}


def test_same_seed_and_layer_give_the_same_draw_and_other_seeds_differ():
    first = draw_donors(UNITS, UNITS, layer_rng(0, "layer3"))
    again = draw_donors(UNITS, UNITS, layer_rng(0, "layer3"))
    other_seed = draw_donors(UNITS, UNITS, layer_rng(1, "layer3"))
    other_layer = draw_donors(UNITS, UNITS, layer_rng(0, "layer4"))

    assert first == again
    assert first != other_seed and first != other_layer


def test_a_single_explained_unit_cannot_be_shuffled():
    with pytest.raises(ValueError, match="at least 2 units"):
        draw_donors([0], [0], np.random.default_rng(0))


@pytest.fixture
def explained_layer(db):
    network = Network.objects.create(name="toy", architecture="demo-cnn")
    layer = Layer.objects.create(network=network, name="conv2", unit_count=len(UNITS))
    source = Method.objects.create(name="netdissect")
    for unit in UNITS:
        neuron = Neuron.objects.create(layer=layer, unit=unit)
        Explanation.objects.create(method=source, neuron=neuron, text=f"concept {unit}", score=0.1)
        Explanation.objects.create(method=source, neuron=neuron, rank=2, text=f"second guess {unit}")
    return layer


def explain(layer, **params):
    return get_method("shuffled-control").explain(
        MethodInput(network=layer.network, layer=layer, probe=None, activations=None, params=params), UNITS
    )


@pytest.mark.django_db
def test_each_neuron_gets_the_source_methods_first_label_of_a_random_other_neuron(explained_layer):
    records = explain(explained_layer, source="netdissect", seed=0)

    assert [r.unit for r in records] == list(UNITS)
    for record in records:
        donor = record.details["donor_unit"]
        assert donor != record.unit
        assert record.text == f"concept {donor}"
        assert record.details["source_method"] == "netdissect"
        assert record.score is None


@pytest.mark.django_db
def test_control_is_deterministic_for_a_seed(explained_layer):
    first = [r.text for r in explain(explained_layer, seed=3)]
    again = [r.text for r in explain(explained_layer, seed=3)]
    other = [r.text for r in explain(explained_layer, seed=4)]

    assert first == again
    assert first != other


@pytest.mark.django_db
def test_missing_source_explanations_are_a_clear_error(explained_layer):
    with pytest.raises(ValueError, match="milan"):
        explain(explained_layer, source="milan")
