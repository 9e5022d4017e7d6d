import secrets

import pandas as pd
import pytest

from evaluation.models import Rater, Rating, Response, Study, StudyItem, StudyMethod, StudyNeuron
from explain.models import Layer, Method, Network, Neuron

from .fixtures import METHODS, hand_frame


def build_study(name: str = "toy-study", frame: pd.DataFrame | None = None) -> Study:
    """A study as the rating pages would leave it, written straight through the ORM."""
    frame = hand_frame() if frame is None else frame
    network, _ = Network.objects.get_or_create(name="toy-net", defaults={"architecture": "demo-cnn"})
    study = Study.objects.create(name=name, network=network, ask_best=True, status=Study.Status.CLOSED)
    methods = {}
    for order, method_name in enumerate(METHODS):
        kind = Method.Kind.CONTROL if method_name == "shuffled-control" else Method.Kind.GENERATED
        methods[method_name], _ = Method.objects.get_or_create(name=method_name, defaults={"kind": kind})
        StudyMethod.objects.create(study=study, method=methods[method_name], order=order)
    items, study_neurons, raters = {}, {}, {}
    for depth, layer_name in enumerate(["layer1", "layer2"]):
        layer, _ = Layer.objects.get_or_create(network=network, name=layer_name, defaults={"order": depth})
        for unit in sorted(frame.loc[frame["layer"] == layer_name, "unit"].unique()):
            neuron, _ = Neuron.objects.get_or_create(layer=layer, unit=int(unit))
            study_neuron = StudyNeuron.objects.create(study=study, neuron=neuron, order=len(study_neurons))
            study_neurons[(layer_name, int(unit))] = study_neuron
            for method_name, method in methods.items():
                items[(layer_name, int(unit), method_name)] = StudyItem.objects.create(
                    study_neuron=study_neuron, method=method, text=f"{method_name} says {layer_name}#{unit}"
                )
    for response_id, rows in frame.groupby("response_id", sort=False):
        head = rows.iloc[0]
        if head["rater"] not in raters:
            raters[head["rater"]] = Rater.objects.create(
                study=study, kind=Rater.Kind.INVITED, token=secrets.token_urlsafe(16), external_id=head["rater"]
            )
        key = (head["layer"], int(head["unit"]))
        best = rows.loc[rows["best"].fillna(False).astype(bool), "method"]
        response = Response.objects.create(
            study=study, rater=raters[head["rater"]], study_neuron=study_neurons[key],
            best_item=items[key + (best.iloc[0],)] if len(best) else None,
            uninterpretable=bool(head["uninterpretable"]), none_fit=bool(head["none_fit"]),
            is_valid=bool(head["is_valid"]), invalid_reason=head["invalid_reason"], source="local",
            submitted_at=head["submitted_at"].to_pydatetime(),
        )
        for row in rows.itertuples():
            Rating.objects.create(response=response, item=items[key + (row.method,)], position=int(row.position),
                                  value=int(row.rating))
    return study


@pytest.fixture
def toy_study(db):
    return build_study()


def database_counts() -> dict:
    from evaluation.models import Rater as R

    return {model.__name__: model.objects.count()
            for model in (Study, StudyMethod, StudyNeuron, StudyItem, R, Response, Rating, Network, Layer, Neuron, Method)}
