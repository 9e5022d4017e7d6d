"""named() and comma_list(): what users name on a command line or in a job."""
import pytest

from explain.lookups import comma_list, named
from explain.models import Layer, Network


class Refused(Exception):
    pass


@pytest.mark.django_db
def test_a_row_is_returned_as_it_is_and_a_name_finds_its_row():
    network = Network.objects.create(name="rn", architecture="resnet50")
    assert named(Network, network, what="network") is network
    assert named(Network, "rn", what="network") == network


@pytest.mark.django_db
def test_an_unknown_name_is_refused_listing_the_known_ones_in_the_callers_error():
    network = Network.objects.create(name="rn", architecture="resnet50")
    Network.objects.create(name="alex", architecture="alexnet")
    with pytest.raises(Refused, match=r"^no network named 'vgg' \(known: alex, rn; built on demand: demo-cnn\)$"):
        named(Network, "vgg", what="network", error=Refused, hint="built on demand: demo-cnn")
    Layer.objects.create(network=network, name="fc")
    layers = Layer.objects.filter(network=network)
    with pytest.raises(LookupError, match=r"^no layer of network 'rn' named 'layer9' \(known: fc\)$"):
        named(layers, "layer9", what="layer of network 'rn'")
    with pytest.raises(LookupError, match=r"\(known: none\)"):
        named(Layer.objects.none(), "fc", what="layer")


def test_comma_lists_drop_blanks_and_spaces():
    assert comma_list(" conv3.conv, conv4.conv ,,") == ["conv3.conv", "conv4.conv"]
    assert comma_list("") == []
