"""Network Dissection (Bau et al., CVPR 2017), following NetDissect-Lite.

The paper's steps, as NetDissect-Lite implements them:

1. For every unit, a threshold T_k: the top `quantile` (0.005) quantile of
   its activation values over every spatial position of every probing image.
2. Each image's activation map is upsampled (bilinear) to the resolution of
   that image's concept masks and binarised at T_k.
3. Over the whole probing set, sum per unit and concept the intersection of
   the binarised map with the concept mask and the sizes of both; the IoU is
   sum(intersection) / sum(union).
4. Label = the concept of highest IoU. Units whose best IoU is below 0.04
   keep that label but are marked below threshold.
5. Dead units: a unit whose IoU is 0 with every concept (it never fires, or
   fires only where nothing is annotated) gets no label at all: no record, so
   no explanation row. NetDissect-Lite does the same in effect: its argmax
   falls on label 0, Broden's unlabelled placeholder "-". Here concept 0 is
   a real concept, so labelling the unit with it would invent a detector.
   `dead_units` lists them so callers can report every unit as handled.

NetDissect-Lite's union has one detail worth keeping for comparability: the
unit's active pixels of an image count towards the union of a concept only
if, in that image, they touch some annotated concept of the same category
(colour, texture, shape, ...). Images where a category is not annotated at
all therefore do not penalise that category's concepts.

When the network's preprocessing center-crops (resize 256 / crop 224 for the
ImageNet classifiers), its maps cover only the central part of each image, so the
masks are cut to that visible region before the IoU (NetDissect-Lite feeds Broden's
224x224 images whole, where maps and masks align by construction).

The maths lives in plain functions (no Django, no model) vectorised over all
units of a layer; the `NetDissect` class only wires them to the method
interface.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from explain.networks import effective_preprocessing, visible_region

from . import register
from .base import ExplanationMethod, ExplanationRecord, MethodInput


@dataclass
class NetDissectParams:
    quantile: float = 0.005  # NetDissect-Lite settings.QUANTILE: top 0.5% of activations
    iou_threshold: float = 0.04  # settings.SCORE_THRESHOLD: below this a unit is not called a detector
    upsample_mode: str = "bilinear"  # NetDissect-Lite: imresize(mode='F'), bilinear by default
    max_chunk_elements: int = 16_000_000  # bounds memory of the threshold computation, not the result
    images_per_batch: int = 64  # images upsampled together; memory and speed only


# -- step 1: per-unit activation thresholds ---------------------------------


def quantile_thresholds(maps: np.ndarray, quantile: float = 0.005, max_chunk_elements: int = 16_000_000) -> np.ndarray:
    """(n_units,) activation value above which a unit's top `quantile` of map pixels lie.

    `maps` is (n_images, n_units, h, w) (a memmap is fine): the quantile is taken over
    all n_images * h * w values of each unit, as many units at a time as fit in
    `max_chunk_elements` values.
    """
    if maps.ndim != 4:
        raise ValueError(f"activation maps must be (images, units, h, w), got shape {maps.shape}")
    n_units = maps.shape[1]
    values_per_unit = maps.shape[0] * maps.shape[2] * maps.shape[3]
    units_per_chunk = max(1, max_chunk_elements // max(1, values_per_unit))
    thresholds = np.empty(n_units, dtype=np.float64)
    for start in range(0, n_units, units_per_chunk):
        chunk = np.asarray(maps[:, start : start + units_per_chunk], dtype=np.float32)
        per_unit = np.moveaxis(chunk, 1, 0).reshape(chunk.shape[1], -1)
        thresholds[start : start + chunk.shape[1]] = np.quantile(per_unit, 1.0 - quantile, axis=1)
    return thresholds


# -- step 2: upsample and binarise -------------------------------------------


def active_pixels(maps: np.ndarray, thresholds: np.ndarray, size: tuple[int, int], mode: str = "bilinear"):
    """Per image of `maps` (n_images, n_units, h, w), a pair (units, active).

    `units` are the units that fire in that image and `active` (len(units), H*W) bool
    their maps, upsampled to `size` and compared with their thresholds. Units whose
    map never exceeds the threshold are skipped before upsampling, as NetDissect-Lite
    does: interpolation cannot exceed a map's maximum, and at a 0.5% quantile most
    units are silent on most images. All firing maps of the batch are upsampled in
    one call, which keeps thread start-up costs off the per-image path.
    """
    maps = np.asarray(maps, dtype=np.float32)
    n_images, n_units = maps.shape[:2]
    fires = maps.reshape(n_images, n_units, -1).max(axis=2) > thresholds[None, :]
    image_index, unit_index = np.nonzero(fires)
    selected = torch.from_numpy(np.ascontiguousarray(maps[image_index, unit_index]))[:, None]
    if len(image_index) and tuple(selected.shape[-2:]) != tuple(size):
        kwargs = {"align_corners": False} if mode in {"bilinear", "bicubic"} else {}
        selected = F.interpolate(selected, size=tuple(size), mode=mode, **kwargs)
    active = selected.reshape(len(image_index), size[0] * size[1]).numpy() > thresholds[unit_index, None]
    bounds = np.searchsorted(image_index, np.arange(n_images + 1))
    return [(unit_index[bounds[i] : bounds[i + 1]], active[bounds[i] : bounds[i + 1]]) for i in range(n_images)]


# -- step 3: dataset-level IoU ----------------------------------------------


class IoUTally:
    """Running sums over the probing set from which every unit-concept IoU follows."""

    def __init__(self, n_units: int, concept_categories: Sequence[str]):
        self.categories = sorted(set(concept_categories))
        category_index = {name: i for i, name in enumerate(self.categories)}
        self.concept_category = np.array([category_index[c] for c in concept_categories], dtype=np.int64)
        n_concepts = len(concept_categories)
        self.intersection = np.zeros((n_units, n_concepts), dtype=np.float64)
        self.concept_pixels = np.zeros(n_concepts, dtype=np.float64)
        # Active pixels of a unit in images where they touch an annotated concept of the category.
        self.unit_pixels_per_category = np.zeros((n_units, len(self.categories)), dtype=np.float64)

    def add_image(self, units: np.ndarray, active: np.ndarray, masks: dict[int, np.ndarray]) -> None:
        """Add one image: `active` (len(units), H*W) bool regions of `units`, `masks` {concept: (H, W) bool}."""
        if not masks:
            return
        concepts = np.fromiter(masks.keys(), dtype=np.int64, count=len(masks))
        mask_matrix = np.stack([np.asarray(masks[c], dtype=bool).reshape(-1) for c in concepts]).astype(np.float32)
        self.concept_pixels[concepts] += mask_matrix.sum(axis=1)
        if not len(units):
            return
        if mask_matrix.shape[1] != active.shape[1]:
            raise ValueError(f"mask has {mask_matrix.shape[1]} pixels but the upsampled maps have {active.shape[1]}")
        active_float = active.astype(np.float32)
        overlap = active_float @ mask_matrix.T  # (units, concepts present)
        self.intersection[np.ix_(units, concepts)] += overlap  # indices are unique within one image

        overlap_per_category = np.zeros((len(units), len(self.categories)), dtype=np.float64)
        np.add.at(overlap_per_category, (slice(None), self.concept_category[concepts]), overlap)
        unit_active = active_float.sum(axis=1, dtype=np.float64)
        self.unit_pixels_per_category[units] += (overlap_per_category > 0) * unit_active[:, None]

    def iou(self) -> np.ndarray:
        """(n_units, n_concepts) intersection over union summed over the dataset."""
        unit_pixels = self.unit_pixels_per_category[:, self.concept_category]
        union = unit_pixels + self.concept_pixels[None, :] - self.intersection
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(union > 0, self.intersection / np.where(union > 0, union, 1.0), 0.0)
        return iou


# -- step 4: labels ---------------------------------------------------------


def best_concepts(iou: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per unit, the index of the concept of highest IoU and that IoU."""
    best = iou.argmax(axis=1)
    return best, iou[np.arange(iou.shape[0]), best]


def visible_masks(masks: dict[int, np.ndarray], spec: dict) -> dict[int, np.ndarray]:
    """The masks cut to the region of the image the network sees after its preprocessing's center crop;
    concepts left with no pixel there are dropped."""
    if not masks:
        return masks
    height, width = np.asarray(next(iter(masks.values()))).shape
    region = visible_region(height, width, spec)
    if region is None:
        return masks
    top, left, bottom, right = region
    cut = {concept: np.asarray(mask)[top:bottom, left:right] for concept, mask in masks.items()}
    return {concept: mask for concept, mask in cut.items() if mask.any()}


def dead_units(iou: np.ndarray) -> np.ndarray:
    """Units whose IoU is 0 with every concept: they get no label."""
    return np.flatnonzero(~(iou > 0).any(axis=1))


def dissect_layer(maps: np.ndarray, mask_source, n_images: int, concept_categories: Sequence[str], params=None):
    """IoU (n_units, n_concepts) and thresholds (n_units,) for one layer.

    `mask_source(row)` returns image `row`'s {concept index: (H, W) bool mask}; row i of
    `maps` is the same image as `mask_source(i)`.
    """
    params = params or NetDissectParams()
    thresholds = quantile_thresholds(maps, params.quantile, params.max_chunk_elements)
    tally = IoUTally(maps.shape[1], concept_categories)
    for start in range(0, n_images, params.images_per_batch):
        rows = range(start, min(start + params.images_per_batch, n_images))
        masks = {row: mask_source(row) for row in rows}
        by_size: dict[tuple, list[int]] = {}
        for row in rows:
            if masks[row]:
                by_size.setdefault(np.asarray(next(iter(masks[row].values()))).shape, []).append(row)
        for size, same_size in by_size.items():
            regions = active_pixels(maps[same_size], thresholds, size, params.upsample_mode)
            for row, (units, active) in zip(same_size, regions):
                tally.add_image(units, active, masks[row])
    return tally.iou(), thresholds


@register
class NetDissect(ExplanationMethod):
    name = "netdissect"
    display_name = "Network Dissection"
    kind = "generated"
    description = (
        "Bau et al. 2017 (NetDissect-Lite): IoU of each unit's top-0.5% activation region with the "
        "concept masks of an annotated probing set; label = concept of highest IoU."
    )
    params_class = NetDissectParams

    def explain(self, inputs: MethodInput, units: Sequence[int]) -> list[ExplanationRecord]:
        params = self.parse_params(inputs.params)
        probe, cache = self.annotated_probe(inputs), inputs.activations
        probe_row = {image_id: row for row, image_id in enumerate(probe.image_ids)}
        try:
            rows = [probe_row[image_id] for image_id in cache.image_ids]
        except KeyError as missing:
            raise ValueError(f"activation cache has image {missing} that is not in probing set {probe.name!r}") from None

        spec = effective_preprocessing(inputs.network) if inputs.network is not None else {}
        iou, thresholds = dissect_layer(
            cache.maps(), lambda i: visible_masks(probe.concept_masks(rows[i]), spec), len(rows), probe.concept_categories, params
        )
        best, best_iou = best_concepts(iou)
        dead = set(dead_units(iou).tolist())
        records = []
        for unit in units:
            if int(unit) in dead:
                continue
            concept = int(best[unit])
            score = float(best_iou[unit])
            records.append(
                ExplanationRecord(
                    unit=int(unit),
                    text=probe.concept_names[concept],
                    score=score,
                    score_name="iou",
                    details={
                        "category": probe.concept_categories[concept],
                        "below_threshold": score < params.iou_threshold,
                        "activation_threshold": float(thresholds[unit]),
                        "params": asdict(params),
                    },
                )
            )
        return records
