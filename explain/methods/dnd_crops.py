"""Describe-and-Dissect step 1: attention crops of an image from a unit's activation map (OpenCV)."""
from __future__ import annotations

import cv2
import numpy as np
import torch
from PIL import Image

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in image pixels


def box_iou(a: Box, b: Box) -> float:
    overlap_w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    overlap_h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    overlap = overlap_w * overlap_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - overlap
    return overlap / union if union else 0.0


def attention_boxes(activation_map: np.ndarray, image_size: tuple[int, int], max_crops: int = 4,
                    max_iou_between_crops: float = 0.5, max_iou_with_image: float = 0.8,
                    heatmap: str = "project") -> list[Box]:
    """Boxes around the regions where the unit fires, largest first.

    The map becomes an 8-bit heatmap the size of the image, thresholded with Otsu's method; each
    external contour gives a bounding box. A box is kept if it overlaps no kept box by more than
    `max_iou_between_crops` and is not almost the whole image (IoU with it below `max_iou_with_image`).

    heatmap="project": the map is min-max scaled to 0-255 and resized bilinearly; boxes of equal
    area are taken top-left first. heatmap="reference", as the DnD code does: the map times 255 cast
    to uint8 (values above 1 or below 0 wrap around, as torch's cast does on a CPU), resized bicubic
    (PIL's default), equal areas in contour order, and the "whole image" box is (0, 0, height, width),
    transposed for non-square images.
    """
    width, height = image_size
    values = np.asarray(activation_map, dtype=np.float32)
    if heatmap == "reference":
        if not np.isfinite(values).all():
            return []
        scaled = torch.from_numpy(np.ascontiguousarray(values)).mul(255).byte().numpy()
        heat = np.asarray(Image.fromarray(scaled).resize((width, height), Image.Resampling.BICUBIC))
    else:
        span = float(values.max() - values.min())
        if not np.isfinite(span) or span == 0.0:
            return []  # a flat map has no region to attend to
        normalised = ((values - values.min()) / span * 255.0).astype(np.uint8)
        heat = cv2.resize(normalised, (width, height), interpolation=cv2.INTER_LINEAR)
    _, mask = cv2.threshold(heat, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        boxes.append((x, y, x + w, y + h))
    if heatmap == "reference":
        boxes.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)  # stable: contour order on ties
        whole_image = (0, 0, height, width)
    else:
        boxes.sort(key=lambda b: ((b[2] - b[0]) * (b[3] - b[1]), -b[1], -b[0]), reverse=True)
        whole_image = (0, 0, width, height)
    kept: list[Box] = []
    for box in boxes:
        if len(kept) == max_crops:
            break
        if box_iou(box, whole_image) >= max_iou_with_image:
            continue
        if all(box_iou(box, other) <= max_iou_between_crops for other in kept):
            kept.append(box)
    return kept


def crop_images(image, boxes: list[Box], heatmap: str = "project"):
    """The crops, each resized back to the image's size (as the reference does; with heatmap="reference"
    to (height, width) taken as (width, height), as its code does, which transposes non-square images)."""
    size = image.size if heatmap != "reference" else (image.size[1], image.size[0])
    return [image.crop(box).resize(size) for box in boxes]
