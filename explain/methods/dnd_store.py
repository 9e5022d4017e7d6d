"""Where Describe-and-Dissect keeps its images: ProbeImage rows of two derived datasets per (network, layer).

Row indices are fixed by (unit, position), so a rerun overwrites the same rows
instead of adding new ones.
"""
from __future__ import annotations

import io

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.text import slugify

from explain.models import ProbeDataset, ProbeImage


def _dataset(prefix: str, network, layer, source: str) -> ProbeDataset:
    name = slugify(f"{prefix}-{network.name}-{layer.name}")[:100]
    dataset, _ = ProbeDataset.objects.get_or_create(
        name=name, defaults={"kind": ProbeDataset.Kind.GENERATED, "source": source},
    )
    return dataset


def crops_dataset(network, layer) -> ProbeDataset:
    return _dataset("dnd-crops", network, layer, "Describe-and-Dissect step 1: attention crops")


def generated_dataset(network, layer) -> ProbeDataset:
    return _dataset("dnd-generated", network, layer, "Describe-and-Dissect step 3: Stable Diffusion images")


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@transaction.atomic
def store_images(dataset: ProbeDataset, entries: list[dict]) -> list[int]:
    """Save each entry's `image` at `index` (replacing what a previous run left there); returns row ids.

    An entry: {"index", "image", optional "parent_id", "caption", "concepts"}.
    """
    ids = []
    for entry in entries:
        row, _ = ProbeImage.objects.get_or_create(dataset=dataset, index=entry["index"])
        if row.image:
            row.image.delete(save=False)
        row.image.save(f"{dataset.name}/{entry['index']:08d}.png", ContentFile(_png(entry["image"])), save=False)
        row.parent_id = entry.get("parent_id")
        row.caption = entry.get("caption", "")
        row.concepts = entry.get("concepts", [])
        row.save()
        ids.append(row.pk)
    return ids
