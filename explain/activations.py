"""One forward pass over a probing set records every unit of the chosen layers at once.

Per (network, probing set, layer, summary) a recording folder under
VAR_DIR/activations holds:
- `summaries.npy`: (images, units) per-image scalar summary (spatial mean or max), a memmap;
- `maps.npy`: (images, units, h, w) full activation maps, a memmap, for methods that
  threshold over all activations (Network Dissection); optional for big layers;
- `top.npz`: the streaming top-k per unit (values, image rows, activation maps of those
  images) together with the number of batches it has absorbed. It is replaced atomically
  after each batch, so it is the resume point: a killed run restarts after the last batch
  it contains and never merges a batch twice. Memory for it is O(units x k).
- `meta.json`: what was recorded (fingerprint of weights, images, layer, summary); a
  recording whose fingerprint no longer matches is discarded and redone.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from explain.networks import capture_layers

SUMMARIES = ("mean", "max")
TOP_FILE, META_FILE, SUMMARIES_FILE, MAPS_FILE = "top.npz", "meta.json", "summaries.npy", "maps.npy"


class ActivationError(ValueError):
    """A recording asked for in a way that cannot work; the message says why."""


def summarise(maps: torch.Tensor | np.ndarray, summary: str):
    """(n, units, h, w) -> (n, units)."""
    if summary == "mean":
        return maps.mean(axis=(2, 3)) if isinstance(maps, np.ndarray) else maps.mean(dim=(2, 3))
    if summary == "max":
        return maps.max(axis=(2, 3)) if isinstance(maps, np.ndarray) else maps.amax(dim=(2, 3))
    raise ActivationError(f"unknown summary {summary!r}; use one of {', '.join(SUMMARIES)}")


def _device(model: torch.nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def layer_maps(model, layer_name: str, images: torch.Tensor, batch_size: int = 64) -> np.ndarray:
    """(n, units, h, w) float32 activation maps of `layer_name` for preprocessed `images`."""
    device = _device(model)
    chunks = []
    with torch.inference_mode(), capture_layers(model, [layer_name]) as captured:
        for start in range(0, len(images), batch_size):
            model(images[start : start + batch_size].to(device))
            chunks.append(captured[layer_name].float().cpu().numpy())
    return np.concatenate(chunks) if chunks else np.zeros((0, 0, 0, 0), dtype=np.float32)


def unit_activations(model, layer_name: str, images: torch.Tensor, summary: str = "mean", batch_size: int = 64) -> np.ndarray:
    """(n, units) per-image summaries of every unit of `layer_name` for preprocessed `images`."""
    summarise(np.zeros((1, 1, 1, 1)), summary)  # reject an unknown summary before any work
    device = _device(model)
    chunks = []
    with torch.inference_mode(), capture_layers(model, [layer_name]) as captured:
        for start in range(0, len(images), batch_size):
            model(images[start : start + batch_size].to(device))
            chunks.append(summarise(captured[layer_name].float(), summary).cpu().numpy())
    return np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)


def merge_top_k(values, rows, maps, batch_values, batch_rows, batch_maps, k: int):
    """Keep each unit's k highest values among the kept ones and a new batch.

    values/rows (units, k'), maps (units, k', h, w) or None; batch_values (units, b),
    batch_rows (b,), batch_maps (units, b, h, w) or None. Ties go to the earlier image,
    so the result does not depend on how the images were batched.
    """
    units = batch_values.shape[0]
    candidate_values = np.concatenate([values, batch_values], axis=1)
    candidate_rows = np.concatenate([rows, np.broadcast_to(batch_rows, (units, len(batch_rows)))], axis=1)
    order = np.lexsort((candidate_rows, -candidate_values), axis=-1)[:, :k]
    new_values = np.take_along_axis(candidate_values, order, axis=1)
    new_rows = np.take_along_axis(candidate_rows, order, axis=1)
    new_maps = None
    if batch_maps is not None:
        candidate_maps = np.concatenate([maps, batch_maps], axis=1)
        new_maps = np.take_along_axis(candidate_maps, order[:, :, None, None], axis=1)
    return new_values, new_rows, new_maps


class StoredActivationCache:
    """`explain.methods.base.ActivationCache` over a finished recording folder."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        meta = json.loads((self.directory / META_FILE).read_text())
        self.meta = meta
        self.layer_name = meta["layer"]
        self.unit_count = meta["unit_count"]
        self.units = meta["units"]
        self.image_ids = meta["image_ids"]
        self.summary = meta["summary"]
        self.map_shape = tuple(meta["map_shape"])
        with np.load(self.directory / TOP_FILE) as top:
            self._top_values, self._top_rows = top["values"], top["rows"]
            self._has_top_maps = "maps" in top.files

    # Copy-on-write memmaps: callers may write into them (torch.as_tensor wants writable
    # arrays) without ever changing the recording on disk.
    def summaries(self) -> np.ndarray:
        return np.load(self.directory / SUMMARIES_FILE, mmap_mode="c")

    def maps(self) -> np.ndarray:
        path = self.directory / MAPS_FILE
        if not path.exists():
            raise ActivationError(f"layer {self.layer_name}: full activation maps were not stored (record with store_maps=True)")
        return np.load(path, mmap_mode="c")

    def top_indices(self, k: int) -> np.ndarray:
        if k <= self._top_rows.shape[1]:
            return self._top_rows[:, :k].copy()
        summaries = np.asarray(self.summaries())
        rows = np.broadcast_to(np.arange(summaries.shape[0]), summaries.T.shape)
        return np.lexsort((rows, -summaries.T), axis=-1)[:, :k]

    def top_values(self, k: int) -> np.ndarray:
        if k <= self._top_values.shape[1]:
            return self._top_values[:, :k].copy()
        return np.take_along_axis(np.asarray(self.summaries()).T, self.top_indices(k), axis=1)

    def top_maps(self) -> np.ndarray | None:
        """(units, k, h, w) activation maps of each unit's top images, most activating first."""
        if not self._has_top_maps:
            return None
        with np.load(self.directory / TOP_FILE) as top:
            return top["maps"]


@dataclass
class _LayerRecorder:
    """Writes one layer's recording batch by batch."""

    layer: str
    directory: Path
    units: list[int] | None
    summary: str
    top_k: int
    store_maps: bool
    keep_top_maps: bool
    completed_batches: int = 0
    values: np.ndarray | None = None
    rows: np.ndarray | None = None
    top_maps: np.ndarray | None = None
    summaries_file: np.ndarray | None = None
    maps_file: np.ndarray | None = None

    def open(self, meta: dict, n_images: int, unit_count: int, map_shape: tuple[int, int]):
        meta_path = self.directory / META_FILE
        fresh = not (meta_path.exists() and json.loads(meta_path.read_text()) == meta and (self.directory / TOP_FILE).exists())
        if fresh:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory.mkdir(parents=True)
            n_units = len(self.units) if self.units is not None else unit_count
            np.lib.format.open_memmap(self.directory / SUMMARIES_FILE, mode="w+", dtype=np.float32, shape=(n_images, n_units)).flush()
            if self.store_maps:
                np.lib.format.open_memmap(
                    self.directory / MAPS_FILE, mode="w+", dtype=np.float32, shape=(n_images, n_units, *map_shape)
                ).flush()
            self._save_top(
                0,
                np.zeros((n_units, 0), np.float32),
                np.zeros((n_units, 0), np.int64),
                np.zeros((n_units, 0, *map_shape), np.float32) if self.keep_top_maps else None,
            )
            _write_json_atomically(meta_path, meta)
        with np.load(self.directory / TOP_FILE) as top:
            self.completed_batches = int(top["completed_batches"])
            self.values, self.rows = top["values"], top["rows"]
            self.top_maps = top["maps"] if self.keep_top_maps else None
        self.summaries_file = np.load(self.directory / SUMMARIES_FILE, mmap_mode="r+")
        self.maps_file = np.load(self.directory / MAPS_FILE, mmap_mode="r+") if self.store_maps else None

    def add_batch(self, batch_index: int, first_row: int, maps: torch.Tensor):
        if self.units is not None:
            maps = maps[:, self.units]
        maps_np = maps.float().cpu().numpy()
        batch_summaries = summarise(maps_np, self.summary)
        rows = np.arange(first_row, first_row + len(maps_np))
        self.summaries_file[rows] = batch_summaries
        self.summaries_file.flush()
        if self.maps_file is not None:
            self.maps_file[rows] = maps_np
            self.maps_file.flush()
        self.values, self.rows, self.top_maps = merge_top_k(
            self.values,
            self.rows,
            self.top_maps,
            batch_summaries.T,
            rows,
            maps_np.transpose(1, 0, 2, 3) if self.keep_top_maps else None,
            self.top_k,
        )
        self.completed_batches = batch_index + 1
        self._save_top(self.completed_batches, self.values, self.rows, self.top_maps)

    def _save_top(self, completed_batches, values, rows, maps):
        partial = self.directory / "top.partial.npz"
        arrays = {"completed_batches": np.array(completed_batches), "values": values, "rows": rows}
        if maps is not None:
            arrays["maps"] = maps
        np.savez(partial, **arrays)
        os.replace(partial, self.directory / TOP_FILE)

    def close(self):
        self.summaries_file = self.maps_file = None


def _write_json_atomically(path: Path, payload: dict):
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(payload, sort_keys=True))
    os.replace(partial, path)


def _is_finished(directory: Path, identity: dict, n_batches: int) -> bool:
    """A recording that matches `identity` and has absorbed every batch can be used without the network."""
    try:
        meta = json.loads((directory / META_FILE).read_text())
        with np.load(directory / TOP_FILE) as top:
            completed = int(top["completed_batches"])
    except (OSError, ValueError, KeyError):
        return False
    return completed == n_batches and all(meta.get(key) == value for key, value in identity.items())


def recording_directory(network, dataset, layer: str, summary: str, units=None) -> Path:
    from django.conf import settings

    suffix = f"-units{hashlib.sha256(json.dumps(list(units)).encode()).hexdigest()[:8]}" if units is not None else ""
    return Path(settings.VAR_DIR) / "activations" / network.name / dataset.name / f"{layer}-{summary}{suffix}"


def _weights_fingerprint(network) -> dict:
    from explain.networks import resolve_weights_path

    source = network.weights_source.strip()
    fingerprint = {
        "network": network.name,
        "architecture": network.architecture,
        "weights_source": source,
        "preprocessing": network.preprocessing,
    }
    if source and ":" not in source.split("/")[0]:
        path = resolve_weights_path(source)
        if path.exists():
            stat = path.stat()
            fingerprint.update(weights_size=stat.st_size, weights_mtime_ns=stat.st_mtime_ns)
    return fingerprint


def record_activations(
    network,
    dataset,
    layers: Sequence[str],
    summary: str = "mean",
    top_k: int = 10,
    batch_size: int = 64,
    store_maps: bool = True,
    units: Sequence[int] | None = None,
    show_progress: bool = True,
    progress: Callable[[int, int], None] | None = None,
    model_and_preprocess=None,
) -> dict[str, StoredActivationCache]:
    """Record `layers` of `network` over probing set `dataset` in one batched pass; resume if interrupted.

    `units` restricts the recording to those unit indices (same forward pass; for
    benchmarks and spot checks). `progress(done_batches, total_batches)` is called
    after every batch.
    """
    from tqdm import tqdm

    from explain.lookups import named
    from explain.models import Network
    from explain.networks import NetworkError, load_network
    from explain.probes import get_probe_set

    if summary not in SUMMARIES:
        raise ActivationError(f"unknown summary {summary!r}; use one of {', '.join(SUMMARIES)}")
    if top_k < 1:
        raise ActivationError("top_k must be at least 1")
    network = named(Network, network, what="network", error=NetworkError)
    probe = get_probe_set(dataset)
    dataset = probe.dataset
    if not probe.image_ids:
        raise ActivationError(f"probing set {dataset.name} has no images")
    n_images = len(probe.image_ids)
    n_batches = (n_images + batch_size - 1) // batch_size
    identity = {
        **_weights_fingerprint(network),
        "dataset": dataset.name,
        "dataset_id": dataset.pk,
        "image_ids": list(probe.image_ids),
        "units": list(units) if units is not None else None,
        "summary": summary,
        "top_k": min(top_k, n_images),
        "batch_size": batch_size,
        "store_maps": store_maps,
    }
    directories = {layer: recording_directory(network, dataset, layer, summary, units) for layer in layers}
    if all(_is_finished(directory, identity, n_batches) for directory in directories.values()):
        return {layer: StoredActivationCache(directory) for layer, directory in directories.items()}

    model, preprocess = model_and_preprocess or load_network(network)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(device)

    def load_batch(batch_index):
        start = batch_index * batch_size
        rows = range(start, min(start + batch_size, len(probe.image_ids)))
        return start, torch.stack([preprocess(probe.load_image(row)) for row in rows]).to(device)

    with torch.inference_mode(), capture_layers(model, layers) as captured:
        model(preprocess(probe.load_image(0))[None].to(device))
    shapes = {layer: tuple(captured[layer].shape[1:]) for layer in layers}
    for layer, (unit_count, *_rest) in shapes.items():
        if units is not None and (min(units) < 0 or max(units) >= unit_count):
            raise NetworkError(f"layer {layer} has {unit_count} units; asked for units {min(units)}..{max(units)}")

    recorders = {}
    for layer in layers:
        unit_count, height, width = shapes[layer]
        recorder = _LayerRecorder(
            layer=layer,
            directory=directories[layer],
            units=list(units) if units is not None else None,
            summary=summary,
            top_k=min(top_k, n_images),
            store_maps=store_maps,
            keep_top_maps=True,
        )
        meta = {"version": 1, **identity, "layer": layer, "unit_count": unit_count, "map_shape": [height, width]}
        recorder.open(meta, n_images, unit_count, (height, width))
        recorders[layer] = recorder

    start_batch = min(recorder.completed_batches for recorder in recorders.values())
    bar = tqdm(total=n_batches, initial=start_batch, desc=f"activations {network.name}/{dataset.name}", disable=not show_progress)
    try:
        with torch.inference_mode(), capture_layers(model, layers) as captured:
            for batch_index in range(start_batch, n_batches):
                first_row, images = load_batch(batch_index)
                model(images)
                for layer, recorder in recorders.items():
                    if recorder.completed_batches <= batch_index:
                        recorder.add_batch(batch_index, first_row, captured[layer])
                bar.update(1)
                if progress is not None:
                    progress(batch_index + 1, n_batches)
    finally:
        bar.close()
        for recorder in recorders.values():
            recorder.close()
    return {layer: StoredActivationCache(recorder.directory) for layer, recorder in recorders.items()}


def get_activation_cache(network, dataset, layer_name: str, summary: str = "mean", **options) -> StoredActivationCache:
    """The finished recording of one layer, recording (or finishing) it first if needed."""
    return record_activations(network, dataset, [layer_name], summary=summary, show_progress=False, **options)[layer_name]
