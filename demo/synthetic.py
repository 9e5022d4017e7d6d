"""A Broden-like probing set the project generates itself.

Each image is a grey canvas that may carry a rectangular patch of coloured
texture (stripes, dots, checkers) and on which one or two small solid coloured
shapes are drawn. Every concept that is visible gets a pixel mask, so the set can be
dissected like Broden. Images are a pure function of (seed, image index), so
the same seed always gives the same bytes, whatever the set size.

The default size (800 images of 64x64) keeps the whole offline demo fast on two
CPU cores: one forward pass of the demo CNN over it takes a couple of seconds,
and the full activation maps of its widest layer stay under 30 MB, while each
of the 15 concepts still appears in about 200 images.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from explain.probes import encode_masks

GENERATOR_VERSION = 2

COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 175, 60),
    "blue": (40, 70, 225),
    "yellow": (235, 215, 40),
    "orange": (245, 140, 25),
    "purple": (140, 50, 185),
    "cyan": (40, 205, 215),
    "white": (245, 245, 245),
}
TEXTURES = ("stripes", "dots", "checkers")
SHAPES = ("circle", "square", "triangle", "cross")
BACKGROUND_GREY = (118, 118, 118)

CONCEPTS: list[tuple[str, str]] = (
    [(name, "color") for name in COLOURS] + [(name, "texture") for name in TEXTURES] + [(name, "shape") for name in SHAPES]
)
CONCEPT_NAMES = [name for name, _ in CONCEPTS]
CONCEPT_CATEGORIES = [category for _, category in CONCEPTS]
# The demo CNN's task: which shape is the largest visible object.
CLASS_NAMES = list(SHAPES)

# Stream ids keep the probe set and the demo network's training images disjoint.
PROBE_STREAM = 0
TRAINING_STREAM = 1


@dataclass(frozen=True)
class SyntheticConfig:
    n_images: int = 800
    size: int = 64
    noise_std: float = 6.0
    plain_background_share: float = 0.25
    # Sizes as shares of the canvas side. Small objects and patches keep each concept's share of
    # all probing pixels near 1-4%, as in Broden: Network Dissection's top-0.5% activation
    # threshold caps a unit's IoU at 0.005 / that share, so concepts covering a fifth of all
    # pixels could never reach its 0.04 IoU threshold.
    shape_radius: tuple[float, float] = (0.10, 0.17)
    texture_patch_side: tuple[float, float] = (0.35, 0.6)
    two_shapes_share: float = 0.5
    version: int = GENERATOR_VERSION

    def as_dict(self):
        """As stored in ProbeDataset.config (JSON: tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))


@dataclass
class SyntheticImage:
    pixels: np.ndarray  # (size, size, 3) uint8
    masks: dict[str, np.ndarray]  # concept name -> boolean (size, size), visible concepts only
    concepts: list[str]
    caption: str
    class_index: int


def _shape_mask(kind: str, size: int, centre: tuple[float, float], radius: float, rng) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    cy, cx = centre
    dy, dx = ys - cy, xs - cx
    if kind == "circle":
        return dy**2 + dx**2 <= radius**2
    if kind == "square":
        half = radius * 0.85
        return (np.abs(dy) <= half) & (np.abs(dx) <= half)
    if kind == "triangle":
        # Upright isosceles triangle: apex at the top, base at the bottom.
        top, bottom = cy - radius, cy + radius * 0.8
        rel = (ys - top) / (bottom - top)
        return (rel >= 0) & (rel <= 1) & (np.abs(dx) <= rel * radius)
    if kind == "cross":
        arm = radius * 0.35
        within = (np.abs(dy) <= radius) & (np.abs(dx) <= radius)
        return within & ((np.abs(dy) <= arm) | (np.abs(dx) <= arm))
    raise ValueError(f"unknown shape {kind!r}")


def _texture_pattern(kind: str, size: int, rng) -> np.ndarray:
    """Boolean map of the texture's foreground pixels over the whole canvas."""
    ys, xs = np.mgrid[0:size, 0:size]
    period = int(rng.integers(6, 11))
    phase = int(rng.integers(0, period))
    if kind == "stripes":
        orientation = rng.integers(0, 3)
        coordinate = [ys, xs, ys + xs][orientation]
        return ((coordinate + phase) % period) < period // 2
    if kind == "dots":
        cy = (ys + phase) % period - period / 2
        cx = (xs + phase) % period - period / 2
        return cy**2 + cx**2 <= (period / 3.2) ** 2
    if kind == "checkers":
        cell = max(3, period // 2)
        return (((ys + phase) // cell) + ((xs + phase) // cell)) % 2 == 0
    raise ValueError(f"unknown texture {kind!r}")


def _patch_mask(size: int, side_range: tuple[float, float], rng) -> np.ndarray:
    """A rectangular region of the canvas, for a texture patch."""
    height, width = (int(round(rng.uniform(*side_range) * size)) for _ in range(2))
    top, left = int(rng.integers(0, size - height + 1)), int(rng.integers(0, size - width + 1))
    mask = np.zeros((size, size), dtype=bool)
    mask[top : top + height, left : left + width] = True
    return mask


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def generate_image(seed: int, index: int, config: SyntheticConfig = SyntheticConfig(), stream: int = PROBE_STREAM) -> SyntheticImage:
    rng = np.random.default_rng([seed, stream, index])
    size = config.size
    colour_names = list(COLOURS)
    canvas = np.empty((size, size, 3), dtype=np.float32)
    canvas[:] = BACKGROUND_GREY
    # Which colour painted each pixel (-1: background grey), for the colour masks.
    paint = np.full((size, size), -1, dtype=np.int16)

    texture = None
    texture_colour = None
    if rng.random() >= config.plain_background_share:
        texture = TEXTURES[rng.integers(len(TEXTURES))]
        texture_colour = int(rng.integers(len(colour_names)))
        patch = _patch_mask(size, config.texture_patch_side, rng)
        pattern = _texture_pattern(texture, size, rng) & patch
        canvas[pattern] = COLOURS[colour_names[texture_colour]]
        paint[pattern] = texture_colour

    n_shapes = 2 if rng.random() < config.two_shapes_share else 1
    shape_owner = np.full((size, size), -1, dtype=np.int16)  # index into `shapes` of the visible shape
    shapes = []
    placed = []
    for shape_index in range(n_shapes):
        kind = SHAPES[rng.integers(len(SHAPES))]
        colour = int(rng.integers(len(colour_names)))
        if colour == texture_colour:  # keep every shape distinguishable from its background
            colour = (colour + 1 + int(rng.integers(len(colour_names) - 1))) % len(colour_names)
        radius = float(rng.uniform(*config.shape_radius) * size)
        for _attempt in range(20):
            centre = (float(rng.uniform(radius, size - radius)), float(rng.uniform(radius, size - radius)))
            # Mostly separate shapes: a shape hidden behind another would be a concept nobody can see.
            if all(np.hypot(centre[0] - c[0], centre[1] - c[1]) >= 0.9 * (radius + r) for c, r in placed):
                break
        placed.append((centre, radius))
        mask = _shape_mask(kind, size, centre, radius, rng)
        canvas[mask] = COLOURS[colour_names[colour]]
        paint[mask] = colour
        shape_owner[mask] = shape_index
        shapes.append((kind, colour))

    noise = rng.normal(0.0, config.noise_std, size=canvas.shape)
    pixels = np.clip(np.rint(canvas + noise), 0, 255).astype(np.uint8)

    masks: dict[str, np.ndarray] = {}
    for colour_index, name in enumerate(colour_names):
        mask = paint == colour_index
        if mask.any():
            masks[name] = mask
    if texture is not None:
        # The whole textured patch counts, gaps between stripes included.
        region = patch & (shape_owner < 0)
        if region.any():
            masks[texture] = region
    visible_area = {}
    for shape_index, (kind, _) in enumerate(shapes):
        mask = shape_owner == shape_index
        if mask.any():
            masks[kind] = masks[kind] | mask if kind in masks else mask
            visible_area[shape_index] = int(mask.sum())

    largest = max(visible_area, key=visible_area.get)
    concepts = [name for name in CONCEPT_NAMES if name in masks]
    described = [f"{colour_names[c]} {kind}" for i, (kind, c) in enumerate(shapes) if i in visible_area]
    things = " and ".join(f"{_article(d)} {d}" for d in described)
    if texture is None:
        background = "a plain grey background"
    else:
        background = f"a grey background with a patch of {colour_names[texture_colour]} {texture}"
    caption = f"{things[0].upper()}{things[1:]} on {background}."
    return SyntheticImage(pixels, masks, concepts, caption, SHAPES.index(shapes[largest][0]))


def encode_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def generate_batch(seed: int, count: int, config: SyntheticConfig = SyntheticConfig(), stream: int = TRAINING_STREAM):
    """(images uint8 (n, size, size, 3), concept presence (n, n_concepts), class indices (n,)) in memory."""
    images = np.empty((count, config.size, config.size, 3), dtype=np.uint8)
    presence = np.zeros((count, len(CONCEPT_NAMES)), dtype=np.float32)
    classes = np.empty(count, dtype=np.int64)
    for index in range(count):
        sample = generate_image(seed, index, config, stream)
        images[index] = sample.pixels
        presence[index, [CONCEPT_NAMES.index(c) for c in sample.concepts]] = 1.0
        classes[index] = sample.class_index
    return images, presence, classes


def ensure_synthetic_probe(name: str = "synthetic", seed: int = 0, config: SyntheticConfig | None = None, show_progress=False):
    """The stored synthetic probing set `name`, generated on first use. Idempotent.

    An existing set is reused as it is; asking for the same name with another
    seed or configuration is an error rather than a silent regeneration.
    """
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.db import transaction
    from tqdm import tqdm

    from explain.models import ProbeDataset, ProbeImage

    config = config or SyntheticConfig()
    wanted = config.as_dict()
    existing = ProbeDataset.objects.filter(name=name).first()
    if existing is not None:
        if existing.kind != ProbeDataset.Kind.SYNTHETIC or existing.seed != seed or existing.config.get("generator") != wanted:
            raise ValueError(
                f"probing set {name!r} already exists with kind={existing.kind}, seed={existing.seed}, "
                f"config={existing.config.get('generator')}; it is never regenerated differently — pick another name"
            )
        _restore_missing_files(existing, seed, config)
        return existing

    digest = hashlib.sha256()
    with transaction.atomic():
        dataset = ProbeDataset.objects.create(
            name=name,
            kind=ProbeDataset.Kind.SYNTHETIC,
            source=f"demo.synthetic v{GENERATOR_VERSION}",
            seed=seed,
            config={"generator": wanted},
            concepts=[{"name": n, "category": c} for n, c in CONCEPTS],
            class_names=CLASS_NAMES,
        )
        rows = []
        for index in tqdm(range(config.n_images), desc=f"generating {name}", disable=not show_progress):
            sample = generate_image(seed, index, config)
            png = encode_png(sample.pixels)
            digest.update(png)
            image_path = default_storage.save(_image_path(name, seed, index, "png"), ContentFile(png))
            mask_path = default_storage.save(_image_path(name, seed, index, "npz"), ContentFile(encode_masks(sample.masks)))
            rows.append(
                ProbeImage(
                    dataset=dataset,
                    index=index,
                    image=image_path,
                    masks=mask_path,
                    concepts=sample.concepts,
                    caption=sample.caption,
                    class_index=sample.class_index,
                )
            )
        ProbeImage.objects.bulk_create(rows, batch_size=500)
        dataset.config = {"generator": wanted, "png_sha256": digest.hexdigest()}
        dataset.save(update_fields=["config"])
    return dataset


def _image_path(name: str, seed: int, index: int, extension: str) -> str:
    return f"probes/{name}/seed{seed}/{index:06d}.{extension}"


def _restore_missing_files(dataset, seed: int, config: SyntheticConfig):
    """Rewrite image files lost from storage; generation is deterministic, so the bytes are the same."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    for image in dataset.images.all():
        if default_storage.exists(image.image.name) and (not image.masks or default_storage.exists(image.masks.name)):
            continue
        sample = generate_image(seed, image.index, config)
        for field_file, payload in ((image.image, encode_png(sample.pixels)), (image.masks, encode_masks(sample.masks))):
            if default_storage.exists(field_file.name):
                default_storage.delete(field_file.name)
            saved = default_storage.save(field_file.name, ContentFile(payload))
            if saved != field_file.name:
                raise RuntimeError(f"storage renamed {field_file.name} to {saved}")
