"""What one rating task shows: images, shuffled descriptions by opaque slot token, the questions."""
from __future__ import annotations

import random

from .assignment import rater_progress
from .models import Assignment

RATING_QUESTION = "Does the description accurately describe most of the above images?"
BEST_QUESTION = "Which description best describes the images?"
SCALE_LABELS = (
    (1, "Strongly disagree"),
    (2, "Disagree"),
    (3, "Neither agree nor disagree"),
    (4, "Agree"),
    (5, "Strongly agree"),
)
UNINTERPRETABLE_LABEL = "The images share no clear concept"
NONE_FIT_LABEL = "None of the descriptions fit"


def task_context(assignment: Assignment) -> dict:
    """Everything the rating form shows, and nothing that names a method or explanation."""
    study = assignment.study_neuron.study
    images = [
        {"url": study_image.image.image.url, "position": study_image.position}
        for study_image in assignment.study_neuron.images.select_related("image").order_by("position")
    ]
    descriptions = [
        {"token": slot.token, "text": slot.item.text, "number": slot.position + 1}
        for slot in assignment.slots.select_related("item").order_by("position")
    ]
    return {
        "assignment_token": assignment.token,
        "study_title": study.title or study.name,
        "instructions": study.instructions,
        "images": images,
        "descriptions": descriptions,
        "scale": SCALE_LABELS,
        "rating_question": RATING_QUESTION,
        "best_question": BEST_QUESTION,
        "ask_best": study.ask_best,
        "uninterpretable_label": UNINTERPRETABLE_LABEL,
        "none_fit_label": NONE_FIT_LABEL,
        "progress": rater_progress(assignment.rater),
    }


def preview_context(study_neuron) -> dict:
    """The rating form for a neuron as a rater would see it, before any assignment exists.

    Slot names are placeholders (the form is disabled, nothing can be stored) and
    the descriptions are shuffled like a real task's: still no method named.
    """
    items = list(study_neuron.items.order_by("pk"))
    random.Random(study_neuron.pk).shuffle(items)
    study = study_neuron.study
    return {
        "assignment_token": "",
        "study_title": study.title or study.name,
        "instructions": study.instructions,
        "images": [
            {"url": study_image.image.image.url, "position": study_image.position}
            for study_image in study_neuron.images.select_related("image").order_by("position")
        ],
        "descriptions": [
            {"token": f"preview-{number}", "text": item.text, "number": number}
            for number, item in enumerate(items, start=1)
        ],
        "scale": SCALE_LABELS,
        "rating_question": RATING_QUESTION,
        "best_question": BEST_QUESTION,
        "ask_best": study.ask_best,
        "uninterpretable_label": UNINTERPRETABLE_LABEL,
        "none_fit_label": NONE_FIT_LABEL,
    }
