"""Attention checks: tasks built from the study's own material whose right answer is known.

The rule (also in docs/rating-page.md):

- **When.** With `Study.attention_check_every = N` (0 = off), a rater's tasks run in blocks of N; the first
  R // (N - 1) blocks (R = the study's neurons, the most real tasks a rater can get) each hold one check at a
  place drawn at random per rater and block, so a rater cannot count their way to it.
- **What.** A check shows one study neuron's images, exactly like a normal task, with as many descriptions as a
  normal task: one of the neuron's own descriptions (from a method that is not a negative control) and, in place
  of the others, *decoys*: descriptions of other study neurons that share no top image with it and no content word
  with any of its own descriptions (words of three or more letters, lower-cased, a final "s" dropped, common
  function words ignored), and no content word with each other.
- **Right answer.** A decoy describes none of the images. The check is passed when every decoy is rated 1 or 2
  (disagree), and, when the study asks for the best description, the rater picked the neuron's own description —
  unless they ticked "none of the descriptions fit", which is an honest answer when the own description is poor.
- **Counting.** A check's answer is stored as a Response with `is_check=True` and `check_passed`; it never enters
  progress counts, the K raters a neuron needs, or any table (analysis.frames leaves it out).
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Collection, Hashable, Iterable, Mapping

from explain.models import Method

from .models import Study, StudyItem, StudyNeuron

DECOY_MAX_RATING = 2
_WORD = re.compile(r"[a-z0-9]+")
_FUNCTION_WORDS = frozenset(
    "the and with for from that this these those into onto over under near some any all are its has have "
    "not but very more most like kind type of".split()
)


def content_words(text: str) -> frozenset[str]:
    """Words that carry a concept: three or more letters, lower-cased, a plural "s" dropped."""
    words = set()
    for word in _WORD.findall(text.lower()):
        if len(word) < 3 or word in _FUNCTION_WORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.add(word)
    return frozenset(words)


def check_position(rater_token: str, block: int, every: int) -> int:
    """0-based place of the check inside block `block` of this rater's tasks."""
    return random.Random(f"check:{rater_token}:{block}").randrange(every)


def checks_planned(real_tasks: int, every: int) -> int:
    """How many checks a rater who does `real_tasks` real tasks gets (one per full block of every-1 real tasks)."""
    if every < 2 or real_tasks < 1:
        return 0
    return real_tasks // (every - 1)


def check_due(rater_token: str, tasks_answered: int, real_tasks: int, every: int) -> bool:
    """Whether the rater's next task (number tasks_answered + 1, checks included) is a check."""
    planned = checks_planned(real_tasks, every)
    block, place = divmod(tasks_answered, every)
    return block < planned and place == check_position(rater_token, block, every)


def check_passed(ratings: Mapping[Hashable, int], decoys: Iterable[Hashable], own: Hashable, best: Hashable | None,
                 ask_best: bool, none_fit: bool) -> bool:
    """The right answer of a check (see the module doc): every decoy rated at most 2, and the own description
    picked as best when the best question is asked, unless the rater said no description fits."""
    if any(ratings[decoy] > DECOY_MAX_RATING for decoy in decoys):
        return False
    if ask_best and not none_fit and best != own:
        return False
    return True


@dataclass(frozen=True)
class CheckMaterial:
    study_neuron: StudyNeuron
    own: StudyItem
    decoys: list[StudyItem]


def _is_control(item: StudyItem) -> bool:
    return item.method.kind == Method.Kind.CONTROL


def build_check(study: Study, rng: random.Random, rated: Collection[int] = ()) -> CheckMaterial | None:
    """A check from the study's material, or None when the study has none to offer. Neurons whose pk is in
    `rated` (the rater's own answered neurons) are tried last, so the images look new."""
    neurons = list(study.study_neurons.prefetch_related("items__method", "images"))
    if not neurons:
        return None
    items = {sn.pk: list(sn.items.all()) for sn in neurons}
    images = {sn.pk: {image.image_id for image in sn.images.all()} for sn in neurons}
    words = {item.pk: content_words(item.text) for sn in neurons for item in items[sn.pk]}
    order = rng.sample(neurons, len(neurons))
    order.sort(key=lambda sn: sn.pk in rated)
    for study_neuron in order:
        material = _check_for(study_neuron, neurons, items, images, words, rng)
        if material is not None:
            return material
    return None


def _check_for(study_neuron, neurons, items, images, words, rng):
    own_items = items[study_neuron.pk]
    candidates = [item for item in own_items if not _is_control(item) and words[item.pk]]
    if not candidates or len(own_items) < 2:
        return None
    own = rng.choice(candidates)
    own_words = frozenset().union(*(words[item.pk] for item in own_items))
    decoy_pool = [
        item
        for other in neurons
        if other.pk != study_neuron.pk and not images[other.pk] & images[study_neuron.pk]
        for item in items[other.pk]
        if not _is_control(item) and words[item.pk] and not words[item.pk] & own_words
    ]
    rng.shuffle(decoy_pool)
    decoys, used_words = [], set()
    for item in decoy_pool:
        if words[item.pk] & used_words:
            continue
        decoys.append(item)
        used_words |= words[item.pk]
        if len(decoys) == len(own_items) - 1:
            return CheckMaterial(study_neuron, own, decoys)
    return None
