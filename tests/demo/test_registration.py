"""The demo app hands its network and probing set to explain by registration; explain never imports it."""
import pytest

from explain import registries
from explain.jobs import JobError, resolve_network, resolve_probe
from explain.networks import architectures, build_architecture


def test_demo_registers_its_architecture_network_and_probe_with_explain():
    assert "demo-cnn" in architectures()
    assert set(registries.on_demand_networks()) == {"demo-cnn"}
    assert set(registries.on_demand_probes()) == {"synthetic"}
    model = build_architecture("demo-cnn", num_classes=4)
    assert type(model).__module__ == "demo.network"
    assert model.fc.out_features == 4


@pytest.mark.django_db
def test_unknown_names_list_what_is_built_on_demand():
    with pytest.raises(JobError, match=r"no network named 'nope' \(known: none; built on demand: demo-cnn\)"):
        resolve_network("nope")
    with pytest.raises(JobError, match=r"no probing dataset named 'nope' \(known: none; built on demand: synthetic\)"):
        resolve_probe("nope")
