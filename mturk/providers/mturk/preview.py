"""What an MTurk worker sees before accepting a HIT: the real images and descriptions, no assignment."""
import random

from evaluation import services as rating


def preview_task(study_neuron):
    """The rating form's context for a preview. No assignment exists yet, so the slot names are
    placeholders (the form is disabled) and the order is shuffled like a real task's."""
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
        "scale": rating.SCALE_LABELS,
        "rating_question": rating.RATING_QUESTION,
        "best_question": rating.BEST_QUESTION,
        "ask_best": study.ask_best,
        "uninterpretable_label": rating.UNINTERPRETABLE_LABEL,
        "none_fit_label": rating.NONE_FIT_LABEL,
    }
