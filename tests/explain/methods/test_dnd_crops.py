import numpy as np
from PIL import Image

from explain.methods.dnd_crops import attention_boxes, box_iou, crop_images


def test_box_iou():
    assert box_iou((0, 0, 2, 2), (1, 1, 3, 3)) == 1 / 7
    assert box_iou((0, 0, 2, 2), (2, 2, 4, 4)) == 0.0


def test_attention_boxes_surround_the_active_regions_largest_first():
    activation_map = np.zeros((8, 8), dtype=np.float32)
    activation_map[1:3, 1:3] = 5.0  # small blob
    activation_map[4:8, 4:8] = 9.0  # large blob
    boxes = attention_boxes(activation_map, image_size=(80, 80))
    assert len(boxes) == 2
    (x0, y0, x1, y1), small = boxes
    assert (x1 - x0) * (y1 - y0) > (small[2] - small[0]) * (small[3] - small[1])
    assert x0 >= 30 and y0 >= 30  # the large blob's box lies in the lower-right part of the image


def test_attention_boxes_skip_a_box_covering_almost_the_whole_image_and_flat_maps():
    everywhere = np.ones((4, 4), dtype=np.float32)
    everywhere[0, 0] = 0.0
    assert attention_boxes(everywhere, image_size=(40, 40)) == []
    assert attention_boxes(np.zeros((4, 4)), image_size=(40, 40)) == []


def test_attention_boxes_keep_at_most_the_crop_limit():
    activation_map = np.zeros((16, 16), dtype=np.float32)
    for i in range(0, 16, 3):
        activation_map[i, i] = 1.0
    assert len(attention_boxes(activation_map, image_size=(64, 64), max_crops=4)) == 4


def test_crops_are_resized_to_the_image_size():
    image = Image.new("RGB", (40, 30), "red")
    crops = crop_images(image, [(0, 0, 10, 10), (5, 5, 25, 15)])
    assert [crop.size for crop in crops] == [(40, 30), (40, 30)]
