from django.apps import AppConfig

NETWORK_NAME = "demo-cnn"
PROBE_NAME = "synthetic"


def _build_demo_cnn(num_classes=None):
    from demo.network import DemoCNN

    return DemoCNN(num_outputs=num_classes) if num_classes else DemoCNN()


def _demo_preprocess():
    from demo.network import demo_preprocess

    return demo_preprocess()


def _ensure_demo_network(show_progress=False):
    from demo.network import ensure_demo_network

    return ensure_demo_network(show_progress=show_progress)


def _ensure_synthetic_probe(show_progress=False):
    from demo.synthetic import ensure_synthetic_probe

    return ensure_synthetic_probe(name=PROBE_NAME, show_progress=show_progress)


class DemoConfig(AppConfig):
    """The offline demo: the synthetic probing set, the demo CNN and the `demo` command.

    explain never imports this app; it learns about the "demo-cnn" architecture and network and the
    "synthetic" probing set here, so `explain --network demo-cnn --probe synthetic` builds them on first use.
    The modules are imported only when used (torch is not loaded at start-up).
    """

    name = "demo"
    verbose_name = "Offline demo"

    def ready(self):
        from explain.registries import register_architecture, register_on_demand_network, register_on_demand_probe

        register_architecture(NETWORK_NAME, _build_demo_cnn, _demo_preprocess)
        register_on_demand_network(NETWORK_NAME, _ensure_demo_network)
        register_on_demand_probe(PROBE_NAME, _ensure_synthetic_probe)
