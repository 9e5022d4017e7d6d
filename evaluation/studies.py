"""Creating a study: random neurons per layer, and what raters will see, frozen."""
from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping, Sequence

from django.db import transaction

from explain.lookups import named
from explain.models import Explanation, Method, Network, Neuron, TopImage

from .adaptive import CALIBRATION_RATERS, MIN_NEURONS_TO_ESTIMATE
from .checks import build_check
from .errors import StudyError
from .exclusions import checked_policy_text
from .labelling import check_labelling_options, labelling_images
from .models import Study, StudyImage, StudyItem, StudyMethod, StudyNeuron

MIN_METHODS = 2
MAX_METHODS = 8


@dataclass(frozen=True)
class AdaptivePlan:
    """An adaptive study's settings (see Study's adaptive_* fields and evaluation.adaptive)."""

    min_raters: int = 2
    target_half_width: float | None = None
    budget_responses: int | None = None
    budget_money: Decimal | None = None
    draw_neurons: bool = False
    start_neurons: int = 40

    def check(self, raters_per_neuron: int) -> None:
        if not 1 <= self.min_raters <= raters_per_neuron:
            raise StudyError(
                f"adaptive collection: the minimum raters per neuron must be from 1 to the raters per neuron "
                f"({raters_per_neuron}), got {self.min_raters}"
            )
        if raters_per_neuron < CALIBRATION_RATERS:
            raise StudyError(f"adaptive collection needs at least {CALIBRATION_RATERS} raters per neuron (the cap): "
                             f"the between-rater variance is estimated on neurons rated twice")
        if self.target_half_width is None and self.budget_responses is None and self.budget_money is None:
            raise StudyError("adaptive collection needs a target CI half-width or a budget cap to stop at")
        if self.target_half_width is not None and not self.target_half_width > 0:
            raise StudyError(f"adaptive collection: the target CI half-width must be above 0, got {self.target_half_width}")
        for name, value in (("budget in responses", self.budget_responses), ("budget in money", self.budget_money)):
            if value is not None and not value > 0:
                raise StudyError(f"adaptive collection: the {name} must be above 0, got {value}")
        if self.draw_neurons and self.start_neurons < MIN_NEURONS_TO_ESTIMATE:
            raise StudyError(f"adaptive collection: start with at least {MIN_NEURONS_TO_ESTIMATE} neurons, got {self.start_neurons}")

    def fields(self) -> dict:
        return {
            "collection": "adaptive", "adaptive_min_raters": self.min_raters,
            "adaptive_target_half_width": self.target_half_width, "adaptive_budget_responses": self.budget_responses,
            "adaptive_budget_money": self.budget_money, "adaptive_draw_neurons": self.draw_neurons,
            "adaptive_start_neurons": self.start_neurons,
        }


@dataclass(frozen=True)
class LayerSelection:
    layer: str
    eligible: int
    selected: int


def create_study(
    name: str,
    network: Network | str,
    methods: Sequence[Method | str],
    layers: Sequence[str] | None = None,
    per_layer: int = 200,
    raters_per_neuron: int = 3,
    images_per_task: int = 10,
    seed: int = 0,
    explanation_rank: int | Mapping[str, int] = 1,
    ask_best: bool = True,
    title: str = "",
    instructions: str = "",
    probe: str | None = None,
    summary: str = TopImage.Summary.MEAN,
    status: str = Study.Status.OPEN,
    owner=None,
    units: Mapping[str, Sequence[int]] | None = None,
    attention_check_every: int = 0,
    consistency_prompt: bool = False,
    adaptive: AdaptivePlan | None = None,
    cost_per_response: Decimal | str = Decimal("0.10"),
    exclusion_policy: str = "",
    kind: str = Study.Kind.RATING,
    top_images_per_task: int | None = None,
    random_images_per_task: int | None = None,
) -> Study:
    """Pick neurons at random per layer (or the listed `units` of a layer) and freeze what raters will be shown.

    Eligible neurons have an explanation of the chosen rank from every chosen
    method and top images. Texts and images are copied into StudyItem and
    StudyImage rows, so later re-imports never change this study. A study
    never ends up without neurons: a layer with no eligible neuron is refused.
    With attention_check_every = N (>= 2) one task in N is an attention check
    (evaluation.checks); the study is refused if its material allows none. With `adaptive`, raters per
    neuron is the cap and tasks go where they narrow the reported intervals most (evaluation.adaptive).

    kind="labelling": one task per (neuron, method) showing that description with `top_images_per_task` of the
    unit's top images and `random_images_per_task` random probing images, shuffled (evaluation.labelling).
    """
    network = named(Network, network, what="network", error=StudyError)
    labelling_counts = check_labelling_options(
        kind, top_images_per_task, random_images_per_task,
        attention_check_every=attention_check_every, consistency_prompt=consistency_prompt,
    )
    labelling = labelling_counts is not None
    if labelling and adaptive is not None:
        raise StudyError("adaptive collection narrows the intervals of mean ratings; a labelling study collects K "
                         "raters per description (leave adaptive off)")
    if labelling:
        ask_best, images_per_task = False, sum(labelling_counts)
    method_objs = _resolve_methods(methods, min_methods=1 if labelling else MIN_METHODS)
    ranks = _ranks_per_method(method_objs, explanation_rank)
    layer_objs = _resolve_layers(network, layers)
    if Study.objects.filter(name=name).exists():
        raise StudyError(f"a study named '{name}' already exists")
    if per_layer < 1:
        raise StudyError("--per-layer must be at least 1")
    if raters_per_neuron < 1:
        raise StudyError("raters per neuron must be at least 1")
    if images_per_task < 1:
        raise StudyError("images per task must be at least 1")
    if attention_check_every == 1 or attention_check_every < 0:
        raise StudyError("attention checks: give one check in N tasks with N >= 2, or 0 for no checks")
    if adaptive is not None:
        adaptive.check(raters_per_neuron)
    cost_per_response = Decimal(str(cost_per_response))
    if cost_per_response < 0:
        raise StudyError(f"the cost per response cannot be negative, got {cost_per_response}")
    exclusion_policy = checked_policy_text(exclusion_policy)

    units = dict(units or {})
    unknown_layers = [name for name in units if name not in {layer.name for layer in layer_objs}]
    if unknown_layers:
        raise StudyError(f"units listed for layer(s) not in the study: {', '.join(unknown_layers)}")

    chosen: list[Neuron] = []
    selections = []
    for layer in layer_objs:
        eligible = _eligible_neurons(layer, method_objs, ranks, probe, summary)
        if not eligible:
            raise StudyError(
                f"layer '{layer.name}' has no neuron with top images and an explanation of the chosen rank "
                f"from every method ({', '.join(m.name for m in method_objs)})"
            )
        if layer.name in units:
            picked = _listed_neurons(layer, eligible, units[layer.name])
            chosen.extend(picked)
            selections.append(LayerSelection(layer.name, len(eligible), len(picked)))
            continue
        # Seeded per layer, so adding a layer never changes another layer's sample.
        rng = random.Random(f"{seed}:{network.name}:{layer.name}")
        picked = rng.sample(eligible, min(per_layer, len(eligible)))
        chosen.extend(picked)
        selections.append(LayerSelection(layer.name, len(eligible), len(picked)))

    # Interleave layers in the order tasks are handed out.
    random.Random(f"{seed}:{network.name}:order").shuffle(chosen)

    with transaction.atomic():
        study = Study.objects.create(
            name=name,
            title=title or name,
            instructions=instructions,
            network=network,
            raters_per_neuron=raters_per_neuron,
            images_per_task=images_per_task,
            ask_best=ask_best,
            seed=seed,
            status=status,
            owner=owner,
            attention_check_every=attention_check_every,
            consistency_prompt=consistency_prompt,
            cost_per_response=cost_per_response,
            **(adaptive.fields() if adaptive is not None else {}),
            exclusion_policy=exclusion_policy,
            kind=kind,
            top_images_per_task=labelling_counts[0] if labelling else 0,
            random_images_per_task=labelling_counts[1] if labelling else 0,
        )
        for order, method in enumerate(method_objs):
            StudyMethod.objects.create(study=study, method=method, order=order, explanation_rank=ranks[method.name])
        if labelling:
            _freeze_labelling_tasks(study, chosen, method_objs, ranks, probe, summary)
            study.layer_selections = selections
            return study
        for order, neuron in enumerate(chosen):
            study_neuron = StudyNeuron.objects.create(study=study, neuron=neuron, order=order)
            _freeze_images(study_neuron, probe, summary, images_per_task)
            _freeze_items(study_neuron, method_objs, ranks)
        if attention_check_every and build_check(study, random.Random(seed)) is None:
            raise StudyError(
                "attention checks need a neuron whose images share none with other neurons' and descriptions of "
                "other neurons that share no word with its own; this study's material has none (see evaluation/checks.py)"
            )
    study.layer_selections = selections
    return study


def _listed_neurons(layer, eligible, listed_units) -> list[Neuron]:
    by_unit = {neuron.unit: neuron for neuron in eligible}
    listed = list(dict.fromkeys(int(unit) for unit in listed_units))
    if not listed:
        raise StudyError(f"no units listed for layer '{layer.name}'")
    missing = [unit for unit in listed if unit not in by_unit]
    if missing:
        shown = ", ".join(str(unit) for unit in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise StudyError(f"layer '{layer.name}': unit(s) {shown} are not eligible (no top images, or a method has no "
                         "explanation of the chosen rank for them)")
    return [by_unit[unit] for unit in listed]


def eligible_counts(
    network: Network | str,
    methods: Sequence[Method | str],
    explanation_rank: int | Mapping[str, int] = 1,
    layers: Sequence[str] | None = None,
    probe: str | None = None,
    summary: str = TopImage.Summary.MEAN,
) -> list[LayerSelection]:
    """How many neurons of each layer a study of these methods could use (the builder shows it before saving)."""
    network = named(Network, network, what="network", error=StudyError)
    method_objs = _resolve_methods(methods)
    ranks = _ranks_per_method(method_objs, explanation_rank)
    return [
        LayerSelection(layer.name, _eligible_query(layer, method_objs, ranks, probe, summary).count(), 0)
        for layer in _resolve_layers(network, layers)
    ]


def _resolve_methods(methods, min_methods=MIN_METHODS):
    names = [m.name if isinstance(m, Method) else str(m).strip() for m in methods]
    names = [n for n in names if n]
    if len(set(names)) != len(names):
        raise StudyError(f"a method is listed twice: {', '.join(names)}")
    if not min_methods <= len(names) <= MAX_METHODS:
        what = "study compares" if min_methods == MIN_METHODS else "labelling study takes"
        raise StudyError(f"a {what} {min_methods} to {MAX_METHODS} methods, got {len(names)}")
    found = {m.name: m for m in Method.objects.filter(name__in=names)}
    missing = [n for n in names if n not in found]
    if missing:
        raise StudyError(f"unknown method(s): {', '.join(missing)}")
    return [found[n] for n in names]


def _ranks_per_method(methods, explanation_rank):
    if isinstance(explanation_rank, Mapping):
        unknown = set(explanation_rank) - {m.name for m in methods}
        if unknown:
            raise StudyError(f"explanation rank given for a method not in the study: {', '.join(sorted(unknown))}")
        return {m.name: int(explanation_rank.get(m.name, 1)) for m in methods}
    return {m.name: int(explanation_rank) for m in methods}


def _resolve_layers(network, layers):
    all_layers = list(network.layers.all())
    if not layers:
        if not all_layers:
            raise StudyError(f"network '{network.name}' has no layers")
        return all_layers
    by_name = {layer.name: layer for layer in all_layers}
    missing = [name for name in layers if name not in by_name]
    if missing:
        raise StudyError(
            f"network '{network.name}' has no layer(s) {', '.join(missing)} (it has: {', '.join(by_name) or 'none'})"
        )
    return [by_name[name] for name in layers]


def _top_images_query(probe, summary):
    query = TopImage.objects.filter(summary=summary)
    if probe:
        query = query.filter(dataset__name=probe)
    return query


def _eligible_neurons(layer, methods, ranks, probe, summary):
    return list(_eligible_query(layer, methods, ranks, probe, summary).order_by("unit"))


def _eligible_query(layer, methods, ranks, probe, summary):
    neurons = Neuron.objects.filter(layer=layer)
    for method in methods:
        neurons = neurons.filter(
            pk__in=Explanation.objects.filter(method=method, rank=ranks[method.name]).values("neuron")
        )
    return neurons.filter(pk__in=_top_images_query(probe, summary).values("neuron"))


def _top_images(neuron, probe, summary, count):
    top = _top_images_query(probe, summary).filter(neuron=neuron)
    # One probing set per neuron: the first one recorded, unless the study names one.
    first_dataset = top.order_by("dataset_id").values_list("dataset_id", flat=True).first()
    return list(top.filter(dataset_id=first_dataset).select_related("image").order_by("rank")[:count])


def _freeze_images(study_neuron, probe, summary, images_per_task):
    StudyImage.objects.bulk_create(
        StudyImage(study_neuron=study_neuron, position=position, image_id=t.image_id, activation=t.activation)
        for position, t in enumerate(_top_images(study_neuron.neuron, probe, summary, images_per_task))
    )


def _freeze_items(study_neuron, methods, ranks):
    for method in methods:
        _freeze_item(study_neuron, method, ranks[method.name])


def _freeze_item(study_neuron, method, rank):
    explanation = Explanation.objects.get(method=method, neuron=study_neuron.neuron, rank=rank)
    StudyItem.objects.create(study_neuron=study_neuron, method=method, explanation=explanation, text=explanation.text)


def _freeze_labelling_tasks(study, neurons, methods, ranks, probe, summary):
    """One task per (neuron, method), in a seeded order that spreads a neuron's descriptions apart; every
    description of a neuron is asked about the same images (its top ones and one seeded random draw)."""
    tasks = [(neuron, method) for neuron in neurons for method in methods]
    random.Random(f"{study.seed}:{study.network.name}:labelling-order").shuffle(tasks)
    images = {}
    for order, (neuron, method) in enumerate(tasks):
        if neuron.pk not in images:
            top = _top_images(neuron, probe, summary, max(study.top_images_per_task, 1))
            images[neuron.pk] = labelling_images(study, neuron, top[:study.top_images_per_task], top[0].image.dataset_id)
        study_neuron = StudyNeuron.objects.create(study=study, neuron=neuron, method=method, order=order)
        _freeze_item(study_neuron, method, ranks[method.name])
        shown = list(images[neuron.pk])
        random.Random(f"{study.seed}:{neuron.layer.name}:{neuron.unit}:{method.name}:shown").shuffle(shown)
        StudyImage.objects.bulk_create(
            StudyImage(study_neuron=study_neuron, position=position, image_id=image_id, activation=activation, sample=sample)
            for position, (image_id, activation, sample) in enumerate(shown)
        )
