"""What one task shows: images, shuffled descriptions by opaque slot token, the questions (rating studies),
or one description and a yes/no per image (labelling studies, evaluation.labelling)."""
from __future__ import annotations

import random
from typing import Mapping

from django.utils import timezone

from .assignment import rater_progress
from .labelling import labelling_form
from .models import Assignment, Study

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


def mark_shown(assignment: Assignment) -> None:
    """Start the task's clock the first time its page is built for the rater; later views keep it."""
    if assignment.shown_at is None:
        now = timezone.now()
        Assignment.objects.filter(pk=assignment.pk, shown_at__isnull=True).update(shown_at=now)
        assignment.shown_at = Assignment.objects.values_list("shown_at", flat=True).get(pk=assignment.pk)


def _chosen(answers: Mapping | None, name: str, allowed) -> str:
    """The value the rater chose for a field, if it is one the page offers (anything else is dropped)."""
    if not answers:
        return ""
    value = str(answers.get(name, "") or "").strip()
    return value if value in allowed else ""


def task_context(assignment: Assignment, answers: Mapping | None = None, prompt=None) -> dict:
    """Everything the task's form shows, and nothing that names a method or explanation.

    Building it starts the task's clock (time on task runs from the first time the page is shown).
    `answers`: the form as the rater last sent it (a refused answer or a consistency prompt shows the
    page again with every choice kept). `prompt`: an evaluation.errors.ConsistencyPrompt to show.
    `form_template` names the form's fields for the study's kind (rating or labelling); every page
    that shows a task includes it."""
    mark_shown(assignment)
    study = assignment.study_neuron.study
    common = {
        **_page_wording(study),
        "assignment_token": assignment.token,
        "progress": rater_progress(assignment.rater),
    }
    slots = list(assignment.slots.select_related("item").order_by("position"))
    if study.kind == Study.Kind.LABELLING:
        return {**common, **labelling_form(assignment.study_neuron, slots[0].item.text, answers)}
    values = {str(value) for value, _ in SCALE_LABELS}
    descriptions = [
        {
            "token": slot.token,
            "text": slot.item.text,
            "number": slot.position + 1,
            "chosen": _chosen(answers, f"rating-{slot.token}", values),
        }
        for slot in slots
    ]
    tokens = {description["token"] for description in descriptions}
    return {
        **common,
        "images": _top_images(assignment.study_neuron),
        "descriptions": descriptions,
        **_form_wording(study),
        "best_chosen": _chosen(answers, "best", tokens),
        "uninterpretable_chosen": bool(_chosen(answers, "uninterpretable", {"1", "on", "true", "yes"})),
        "none_fit_chosen": bool(_chosen(answers, "none_fit", {"1", "on", "true", "yes"})),
        "consistency_prompt": str(prompt) if prompt is not None else "",
        "consistency_prompt_signed": prompt.signed if prompt is not None else "",
    }


def preview_context(study_neuron) -> dict:
    """The task's form for a neuron as a rater would see it, before any assignment exists.

    Slot names are placeholders (the form is disabled, nothing can be stored) and
    the descriptions are shuffled like a real task's: still no method named.
    """
    items = list(study_neuron.items.order_by("pk"))
    random.Random(study_neuron.pk).shuffle(items)
    study = study_neuron.study
    common = {**_page_wording(study), "assignment_token": ""}
    if study.kind == Study.Kind.LABELLING:
        return {**common, **labelling_form(study_neuron, items[0].text)}
    return {
        **common,
        "images": _top_images(study_neuron),
        "descriptions": [
            {"token": f"preview-{number}", "text": item.text, "number": number}
            for number, item in enumerate(items, start=1)
        ],
        **_form_wording(study),
    }


def _top_images(study_neuron):
    return [
        {"url": study_image.image.image.url, "position": study_image.position}
        for study_image in study_neuron.images.select_related("image").order_by("position")
    ]


def _page_wording(study) -> dict:
    return {"study_title": study.title or study.name, "instructions": study.instructions}


def _form_wording(study) -> dict:
    """The questions and labels every rating form shows, task or preview alike."""
    return {
        "form_template": "evaluation/_rating_form.html",
        "scale": SCALE_LABELS,
        "rating_question": RATING_QUESTION,
        "best_question": BEST_QUESTION,
        "ask_best": study.ask_best,
        "uninterpretable_label": UNINTERPRETABLE_LABEL,
        "none_fit_label": NONE_FIT_LABEL,
    }
