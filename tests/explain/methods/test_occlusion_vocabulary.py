"""Occlusion finds the region a unit fires on; the vocabulary comes from the paper's question to the LLM."""
import torch

from explain.methods.occlusion_vocabulary import (
    VOCABULARY_QUESTION,
    best_patch_box,
    best_phrases,
    class_vocabulary,
    occlusion_drops,
    parse_phrases,
)
from tests.fakes.played_openai import ChatServer

SQUARE = (20, 36, 32, 48)  # top, left, bottom, right


def square_unit(batch):
    """A constructed unit: the mean of the red channel inside SQUARE (units axis of size 1)."""
    top, left, bottom, right = SQUARE
    return batch[:, 0, top:bottom, left:right].mean(dim=(1, 2)).numpy()[:, None]


def overlap(a, b):
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def test_the_found_patch_overlaps_the_square_the_unit_fires_on():
    torch.manual_seed(0)
    image = torch.rand(3, 64, 64)
    drops, positions = occlusion_drops(square_unit, image, patch=16, stride=3, batch_size=50)
    assert len(positions) == 17 * 17 and drops.shape == (289, 1)
    box = best_patch_box(drops[:, 0], positions, 16)
    assert overlap(box, SQUARE) == 12 * 12  # the 16-pixel occluder covers the whole 12-pixel square
    far = positions.index((0, 0))
    assert drops[far, 0] == 0.0  # occluding elsewhere changes nothing


def test_vocabulary_asks_the_papers_question_for_every_class_and_dedupes_phrases():
    answers = {"tench": "1. Olive-green scales\n2. Fish fins\n", "goldfish": "- fish fins\n- **bright orange body**\nHope this helps?"}
    server = ChatServer(lambda body: answers[body["messages"][0]["content"].split("distinguishing a ")[1].split(" in an")[0]])
    vocabulary, per_class = class_vocabulary(server.llm(), ["tench", "goldfish"])
    asked = sorted(r["messages"][0]["content"] for r in server.requests)
    assert asked == sorted(VOCABULARY_QUESTION.format(class_name=n) for n in ("tench", "goldfish"))
    assert vocabulary == ["olive-green scales", "fish fins", "bright orange body"]
    assert per_class["goldfish"] == ["fish fins", "bright orange body"]


def test_list_markers_and_chatter_are_removed_from_phrases():
    assert parse_phrases("Here are some features:\n1) Long neck\n* spotted coat.\n") == ["long neck", "spotted coat"]


def test_best_phrases_average_the_cosine_over_patches():
    patches = torch.tensor([[1.0, 0.0], [0.8, 0.6]])
    phrases = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.6, 0.8]])
    ranked = best_phrases(patches, phrases, ["b", "a", "c"], 2)
    assert [name for name, _ in ranked] == ["a", "c"]
    assert abs(ranked[0][1] - 0.9) < 1e-6  # (1.0 + 0.8) / 2
