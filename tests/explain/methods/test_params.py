import pytest

from explain.methods import get_method
from explain.methods.base import MethodInput
from explain.methods.clip_dissect import SoftWPMIParams
from explain.methods.netdissect import NetDissectParams
from explain.methods.params import params_from


def test_values_are_converted_to_the_type_of_the_default():
    params = params_from(SoftWPMIParams, {"top_k": "20", "lam": 0.6}, "clip-dissect")

    assert (params.top_k, params.lam, params.temperature) == (20, 0.6, 10.0)


def test_unknown_names_are_refused_with_the_known_ones_listed():
    with pytest.raises(ValueError, match=r"netdissect: unknown param\(s\) quantil; known: .*quantile"):
        params_from(NetDissectParams, {"quantil": 0.01}, "netdissect")


@pytest.mark.parametrize("value", ["many", 2.5, None])
def test_values_of_the_wrong_kind_are_refused(value):
    with pytest.raises(ValueError, match="param top_k="):
        params_from(SoftWPMIParams, {"top_k": value}, "clip-dissect-annotations")


def test_a_method_refuses_a_misspelt_param_before_doing_any_work():
    inputs = MethodInput(network=None, layer=None, probe=None, activations=None, params={"sede": 3})

    with pytest.raises(ValueError, match="shuffled-control: unknown param"):
        get_method("shuffled-control").explain(inputs, units=[0])
