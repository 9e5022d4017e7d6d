"""The explain job: record a network's layers over a probing set once, then run each method on them.

A plain function (`run_explain_job`); the `explain` management command and the
Celery task `explain.tasks.run_explain_task` are thin wrappers around it.
A rerun replaces what it stored, never duplicates it: top images are rewritten, and
explanations go through `explain.services.store_explanations`, which updates them in
place so studies and scores that point at them keep their links.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from django.db import transaction
from django.utils import timezone

from explain.lookups import named
from explain.methods.base import MethodInput
from explain.models import Job, Layer, Method, Network, Neuron, ProbeDataset, TopImage
from explain.registries import on_demand_networks, on_demand_probes
from explain.services import store_explanations

JOB_KIND = "explain"


class JobError(ValueError):
    """A job asked for something that does not exist or cannot run; the message names it."""


def resolve_network(name: str, show_progress: bool = False) -> Network:
    return _stored_or_built(Network, name, "network", on_demand_networks(), show_progress)


def resolve_probe(name: str, show_progress: bool = False) -> ProbeDataset:
    return _stored_or_built(ProbeDataset, name, "probing dataset", on_demand_probes(), show_progress)


def _stored_or_built(model, name: str, what: str, builders: dict, show_progress: bool):
    """The stored row called `name`, or the one its builder (registered in explain.registries) makes on first use."""
    if name in builders and not model.objects.filter(name=name).exists():
        return builders[name](show_progress=show_progress)
    return named(model, name, what=what, error=JobError, hint=f"built on demand: {', '.join(sorted(builders)) or 'none'}")


def load_methods(names: Sequence[str]):
    """Method instances by name, in an order that lets controls read the methods they shuffle."""
    from explain.methods import available_methods, get_method

    if not names:
        raise JobError("no methods given")
    if len(set(names)) != len(names):
        raise JobError(f"method listed twice: {', '.join(names)}")
    unknown = [name for name in names if name not in available_methods()]
    if unknown:
        raise JobError(f"method {unknown[0]!r} is not available; available: {', '.join(available_methods())}")
    instances = [get_method(name) for name in names]
    # Controls (the shuffled-label control) reuse other methods' explanations, so they run last.
    return sorted(instances, key=lambda method: method.kind == Method.Kind.CONTROL)


def method_params(method, names: Sequence[str], given: dict | None) -> dict:
    """The params the job hands `method`, checked against its params dataclass before any work starts."""
    from explain.methods.params import ParamError

    unexpected = sorted(set(given or {}) - set(names))
    if unexpected:
        raise JobError(f"params for method(s) {', '.join(unexpected)}, which the job does not run ({', '.join(names)})")
    params = dict((given or {}).get(method.name, {}))
    if method.kind == Method.Kind.CONTROL:
        others = [name for name in names if name != method.name]
        if "source" not in params:
            if not others:
                raise JobError(f"{method.name} needs another method's explanations; list one with it or pass its param source")
            params["source"] = others[0]
    try:
        method.parse_params(params)
    except ParamError as error:
        raise JobError(str(error)) from None
    return params


def method_record(method) -> Method:
    row, _ = Method.objects.get_or_create(
        name=method.name,
        defaults={"display_name": method.display_name or method.name, "kind": method.kind, "description": method.description},
    )
    return row


def ensure_layer(network: Network, layer_name: str, unit_count: int, order: int) -> Layer:
    layer, _ = Layer.objects.update_or_create(network=network, name=layer_name, defaults={"unit_count": unit_count, "order": order})
    Neuron.objects.bulk_create([Neuron(layer=layer, unit=unit) for unit in range(unit_count)], ignore_conflicts=True)
    return layer


def save_top_images(layer: Layer, dataset: ProbeDataset, cache, top_k: int, summary: str) -> int:
    """TopImage rows for every unit of `layer`, replacing earlier ones of the same summary."""
    k = min(top_k, len(cache.image_ids))
    rows, values = cache.top_indices(k), cache.top_values(k)
    top_maps = cache.top_maps()
    neurons = {neuron.unit: neuron for neuron in layer.neurons.all()}
    image_ids = np.asarray(cache.image_ids)
    records = []
    for unit in range(cache.unit_count):
        for rank in range(k):
            activation_map = top_maps[unit, rank].astype(np.float16) if top_maps is not None and rank < top_maps.shape[1] else None
            records.append(
                TopImage(
                    neuron=neurons[unit],
                    dataset=dataset,
                    image_id=int(image_ids[rows[unit, rank]]),
                    rank=rank,
                    activation=float(values[unit, rank]),
                    summary=summary,
                    activation_map=activation_map.tobytes() if activation_map is not None else None,
                    map_shape=list(activation_map.shape) if activation_map is not None else [],
                )
            )
    with transaction.atomic():
        TopImage.objects.filter(neuron__layer=layer, dataset=dataset, summary=summary).delete()
        TopImage.objects.bulk_create(records, batch_size=1000)
    return len(records)


def _set_progress(job: Job, done: int | None = None, total: int | None = None, message: str | None = None):
    changes = {}
    if done is not None:
        changes["progress_done"] = job.progress_done = done
    if total is not None:
        changes["progress_total"] = job.progress_total = total
    if message is not None:
        changes["progress_message"] = job.progress_message = message[:500]
    Job.objects.filter(pk=job.pk).update(**changes)


def create_job(network: str, probe: str, layers: Sequence[str], methods: Sequence[str], top_k=10, summary="mean", **extra) -> Job:
    return Job.objects.create(
        kind=JOB_KIND,
        params={"network": network, "probe": probe, "layers": list(layers), "methods": list(methods), "top_k": top_k, "summary": summary, **extra},
    )


def run_explain_job(
    network: str,
    probe: str,
    layers: list[str],
    methods: list[str],
    top_k: int = 10,
    summary: str = "mean",
    job: Job | None = None,
    show_progress: bool = True,
    method_params_by_name: dict | None = None,
    batch_size: int = 64,
    store_maps: bool = True,
) -> Job:
    """Record `layers` of `network` over `probe`, keep every unit's top images, run `methods`, store their explanations."""
    import foundation
    from explain.activations import record_activations
    from explain.networks import get_layer, layer_names, load_network
    from explain.probes import get_probe_set

    job = job or create_job(network, probe, layers, methods, top_k, summary, method_params=method_params_by_name or {})
    job.status, job.started_at, job.error, job.finished_at = Job.Status.RUNNING, timezone.now(), "", None
    job.save(update_fields=["status", "started_at", "error", "finished_at"])
    try:
        if not layers:
            raise JobError("no layers given")
        if top_k < 1:
            raise JobError("top_k must be at least 1")
        method_instances = load_methods(methods)
        all_params = {m.name: method_params(m, methods, method_params_by_name) for m in method_instances}
        _set_progress(job, message="preparing network and probing set")
        network_row = resolve_network(network, show_progress)
        dataset = resolve_probe(probe, show_progress)
        model, preprocess = load_network(network_row)
        for layer_name in layers:
            get_layer(model, layer_name)
        probe_set = get_probe_set(dataset)

        n_batches = -(-len(probe_set.image_ids) // batch_size)
        total = n_batches + len(layers) * (1 + len(method_instances))
        _set_progress(job, done=0, total=total, message="recording activations")
        caches = record_activations(
            network_row,
            dataset,
            layers,
            summary=summary,
            top_k=top_k,
            batch_size=batch_size,
            store_maps=store_maps,
            show_progress=show_progress,
            progress=lambda done, _total: _set_progress(job, done=done),
            model_and_preprocess=(model, preprocess),
        )
        done = n_batches
        depth = {name: i for i, name in enumerate(layer_names(model))}
        for layer_name in layers:
            cache = caches[layer_name]
            layer = ensure_layer(network_row, layer_name, cache.unit_count, depth[layer_name])
            save_top_images(layer, dataset, cache, top_k, summary)
            done += 1
            _set_progress(job, done=done, message=f"{layer_name}: top images saved")
            for method in method_instances:
                _set_progress(job, message=f"{layer_name}: {method.name}")
                inputs = MethodInput(
                    network=network_row,
                    layer=layer,
                    probe=probe_set,
                    activations=cache,
                    foundation=foundation,
                    params=all_params[method.name],
                    progress=lambda d, t, message="", layer_name=layer_name, name=method.name: _set_progress(
                        job, message=f"{layer_name}: {name} {d}/{t} {message}".strip()
                    ),
                )
                handled = list(range(cache.unit_count))
                records = method.explain(inputs, handled)
                store_explanations(method_record(method), layer, records, job=job, units=handled)
                done += 1
                _set_progress(job, done=done)
    except BaseException as error:
        job.status, job.error, job.finished_at = Job.Status.FAILED, f"{type(error).__name__}: {error}", timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        raise
    job.status, job.finished_at = Job.Status.SUCCEEDED, timezone.now()
    job.save(update_fields=["status", "finished_at"])
    _set_progress(job, done=job.progress_total, message="done")
    return job
