"""Probing datasets: importing them into media storage, and the ProbeSet view methods read.

Three sources end up as the same stored records (ProbeDataset + ProbeImage
rows, image files in media storage, per-image npz masks for annotated sets):
- an image folder, optionally with one subfolder per class (torchvision's ImageFolder layout);
- a Broden-layout folder (index.csv, label.csv, images/ with segmentation PNGs);
- sets that an app generates itself (the demo app's synthetic set, `demo.synthetic`), built on first use
  through `explain.registries`.
"""
from __future__ import annotations

import csv
import io
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
# Broden categories whose index.csv entries are segmentation files; the others are image-level labels.
BRODEN_PIXEL_CATEGORIES = ("color", "object", "part", "material")
BRODEN_IMAGE_CATEGORIES = ("scene", "texture")


class ProbeImportError(ValueError):
    """A probing folder that cannot be read as asked; the message names the file and the problem."""


class StoredProbeSet:
    """`explain.methods.base.ProbeSet` over a stored ProbeDataset."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.name = dataset.name
        self._images = list(dataset.images.filter(parent__isnull=True).order_by("index"))
        self.image_ids = [image.pk for image in self._images]
        self.concept_names = [concept["name"] for concept in dataset.concepts]
        self.concept_categories = [concept.get("category", "") for concept in dataset.concepts]
        self._concept_index = {name: i for i, name in enumerate(self.concept_names)}

    def __len__(self):
        return len(self._images)

    @property
    def images(self):
        """The ProbeImage rows, in row order."""
        return self._images

    @property
    def class_names(self):
        return list(self.dataset.class_names)

    def load_image(self, row: int) -> Image.Image:
        field = self._images[row].image
        with field.storage.open(field.name, "rb") as handle:
            image = Image.open(io.BytesIO(handle.read()))
            return image.convert("RGB")

    def concept_masks(self, row: int) -> dict[int, np.ndarray]:
        field = self._images[row].masks
        if not field:
            return {}
        with field.storage.open(field.name, "rb") as handle:
            with np.load(io.BytesIO(handle.read())) as stored:
                return {self._concept_index[name]: stored[name].astype(bool) for name in stored.files if name in self._concept_index}

    @cached_property
    def _presence(self) -> np.ndarray:
        presence = np.zeros((len(self._images), len(self.concept_names)), dtype=np.float32)
        for row, image in enumerate(self._images):
            for name in image.concepts:
                if name in self._concept_index:
                    presence[row, self._concept_index[name]] = 1.0
        return presence

    def concept_presence(self) -> np.ndarray:
        return self._presence.copy()

    def captions(self) -> list[str]:
        return [image.caption for image in self._images]

    def class_indices(self) -> list[int | None]:
        return [image.class_index for image in self._images]


def encode_masks(masks: dict[str, np.ndarray]) -> bytes:
    """Per-concept boolean masks as the npz file `StoredProbeSet.concept_masks` reads."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{name: mask.astype(bool) for name, mask in masks.items()})
    return buffer.getvalue()


def get_probe_set(dataset_or_name) -> StoredProbeSet:
    from explain.lookups import named
    from explain.models import ProbeDataset

    return StoredProbeSet(named(ProbeDataset, dataset_or_name, what="probing dataset"))


def import_image_folder(path, name: str):
    """Store every image under `path` as probing set `name`.

    With one subfolder per class (and no loose images at the top), the subfolder
    names become the class names, sorted as torchvision's ImageFolder sorts them.
    """
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.db import transaction

    from explain.models import ProbeDataset, ProbeImage

    root = Path(path)
    if not root.is_dir():
        raise ProbeImportError(f"{root}: not a folder")
    if ProbeDataset.objects.filter(name=name).exists():
        raise ProbeImportError(f"probing set {name!r} already exists")
    loose = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    if class_dirs and not loose:
        class_names = [d.name for d in class_dirs]
        files = [(f, i) for i, d in enumerate(class_dirs) for f in sorted(d.rglob("*")) if f.suffix.lower() in IMAGE_EXTENSIONS]
    else:
        class_names = []
        files = [(f, None) for f in sorted(root.rglob("*")) if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS]
    if not files:
        raise ProbeImportError(f"{root}: no image files ({', '.join(sorted(IMAGE_EXTENSIONS))})")

    with transaction.atomic():
        dataset = ProbeDataset.objects.create(
            name=name, kind=ProbeDataset.Kind.IMAGE_FOLDER, source=str(root.resolve()), class_names=class_names
        )
        rows = []
        for index, (file, class_index) in enumerate(files):
            payload = file.read_bytes()
            _check_image(file, payload)
            relative = file.relative_to(root).as_posix()
            stored = default_storage.save(f"probes/{name}/{relative}", ContentFile(payload))
            rows.append(ProbeImage(dataset=dataset, index=index, image=stored, class_index=class_index))
        ProbeImage.objects.bulk_create(rows, batch_size=500)
    return dataset


def _check_image(file: Path, payload: bytes):
    try:
        with Image.open(io.BytesIO(payload)) as image:
            image.verify()
    except Exception as error:  # Pillow raises many types for unreadable files
        raise ProbeImportError(f"{file}: not a readable image ({error})") from None


def read_broden_labels(root: Path) -> dict[int, tuple[str, list[str]]]:
    """label.csv: number -> (name, categories it belongs to)."""
    label_file = root / "label.csv"
    if not label_file.exists():
        raise ProbeImportError(f"{label_file}: missing (a Broden folder has index.csv, label.csv and images/)")
    labels = {}
    with label_file.open(newline="") as handle:
        reader = csv.DictReader(handle)
        for column in ("number", "name", "category"):
            if column not in (reader.fieldnames or []):
                raise ProbeImportError(f"{label_file}: missing column {column!r}")
        for row_number, row in enumerate(reader, start=2):
            try:
                number = int(row["number"])
            except ValueError:
                raise ProbeImportError(f"{label_file}, line {row_number}: number {row['number']!r} is not an integer") from None
            categories = [part.split("(")[0] for part in row["category"].split(";") if part]
            labels[number] = (row["name"], categories)
    return labels


def decode_broden_segmentation(rgb: np.ndarray) -> np.ndarray:
    """Broden stores a pixel's label number as red + 256 * green."""
    rgb = rgb.astype(np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1]


def import_broden_folder(path, name: str, limit: int | None = None):
    """Store a Broden-layout folder as an annotated probing set.

    Concepts are label.csv's labels, each with its first category. Pixel
    categories (color, object, part, material) give masks at the segmentation
    resolution; image-level ones (scene, texture) give a mask covering the image.
    """
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.db import transaction

    from explain.models import ProbeDataset, ProbeImage

    root = Path(path)
    index_file = root / "index.csv"
    if not index_file.exists():
        raise ProbeImportError(f"{index_file}: missing (a Broden folder has index.csv, label.csv and images/)")
    if ProbeDataset.objects.filter(name=name).exists():
        raise ProbeImportError(f"probing set {name!r} already exists")
    labels = read_broden_labels(root)
    numbers = sorted(labels)
    concept_of_number = {number: i for i, number in enumerate(numbers)}
    concepts = [{"name": labels[n][0], "category": (labels[n][1] or [""])[0]} for n in numbers]

    with index_file.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if "image" not in (reader.fieldnames or []):
            raise ProbeImportError(f"{index_file}: missing column 'image'")
        entries = list(reader)
    if limit is not None:
        entries = entries[:limit]

    with transaction.atomic():
        dataset = ProbeDataset.objects.create(
            name=name, kind=ProbeDataset.Kind.BRODEN, source=str(root.resolve()), concepts=concepts, config={"limit": limit}
        )
        rows = []
        for index, entry in enumerate(entries):
            line = index + 2
            image_file = root / "images" / entry["image"]
            if not image_file.exists():
                raise ProbeImportError(f"{index_file}, line {line}: image {image_file} does not exist")
            payload = image_file.read_bytes()
            _check_image(image_file, payload)
            height = int(entry.get("sh") or entry.get("ih") or 0)
            width = int(entry.get("sw") or entry.get("iw") or 0)
            masks: dict[str, np.ndarray] = {}
            for category in BRODEN_PIXEL_CATEGORIES:
                for segmentation in filter(None, (entry.get(category) or "").split(";")):
                    seg_file = root / "images" / segmentation
                    if not seg_file.exists():
                        raise ProbeImportError(f"{index_file}, line {line}: {category} segmentation {seg_file} does not exist")
                    numbers_map = decode_broden_segmentation(np.asarray(Image.open(seg_file).convert("RGB")))
                    height, width = numbers_map.shape
                    for number in np.unique(numbers_map):
                        if number == 0:
                            continue
                        if number not in concept_of_number:
                            raise ProbeImportError(f"{seg_file}: label number {number} is not in label.csv")
                        concept = concepts[concept_of_number[number]]["name"]
                        mask = numbers_map == number
                        masks[concept] = masks[concept] | mask if concept in masks else mask
            for category in BRODEN_IMAGE_CATEGORIES:
                for value in filter(None, (entry.get(category) or "").split(";")):
                    try:
                        number = int(value)
                    except ValueError:
                        raise ProbeImportError(f"{index_file}, line {line}: {category} label {value!r} is not a number") from None
                    if number not in concept_of_number:
                        raise ProbeImportError(f"{index_file}, line {line}: {category} label {number} is not in label.csv")
                    if not height or not width:
                        raise ProbeImportError(f"{index_file}, line {line}: image-level label without sh/sw or a segmentation")
                    masks[concepts[concept_of_number[number]]["name"]] = np.ones((height, width), dtype=bool)
            image_path = default_storage.save(f"probes/{name}/{entry['image']}", ContentFile(payload))
            mask_path = default_storage.save(f"probes/{name}/masks/{index:07d}.npz", ContentFile(encode_masks(masks)))
            rows.append(
                ProbeImage(dataset=dataset, index=index, image=image_path, masks=mask_path, concepts=sorted(masks))
            )
        ProbeImage.objects.bulk_create(rows, batch_size=500)
    return dataset
