"""Labelling studies: per image, does it show the description? People's concept vectors for the metrics.

A labelling task shows ONE method's description (never the method) and a set of images: some of the unit's
top images and some random probing images, shuffled with the study's seed. For each image the rater answers
"Does this image show: <description>?" yes or no; every image must be answered. The answers (ImageAnswer
rows) are what scoring.people_concepts turns into concept vectors: `answer_rows` gives them in the shape of
its answers CSV, with whether each image was a top or a random one (`sample`), which raters never see.

Each (neuron, method) pair is its own task unit (a StudyNeuron with `method` set and one StudyItem), so the
cap of K raters, reservations, invite/open links and the crowd pages work per description unchanged.
Attention checks and the consistency prompt are rating-study features; a labelling study refuses them.
"""
from __future__ import annotations

import random
from typing import Mapping

from .errors import StudyError, SubmissionError
from .models import Response, Study, StudyImage

QUESTION_PREFIX = "Does this image show:"
ANSWERS = (("yes", "Yes"), ("no", "No"))
DEFAULT_TOP_IMAGES = 5
DEFAULT_RANDOM_IMAGES = 5
MAX_IMAGES = 50
# An image's answer field is `shows-<place>`: places are shuffled at study creation, so a place says nothing
# about whether the image is a top or a random one.
ANSWER_COLUMNS = ("network", "layer", "probe", "method", "unit", "rank", "image", "sample", "answer", "rater", "response")


def check_labelling_options(kind, top, random_count, *, attention_check_every, consistency_prompt):
    """(top, random) image counts of a labelling study, None for a rating study; StudyError names what is wrong."""
    if kind not in Study.Kind.values:
        raise StudyError(f"unknown study kind {kind!r}; choose from {', '.join(Study.Kind.values)}")
    if kind == Study.Kind.RATING:
        if top or random_count:
            raise StudyError("top and random image counts are for labelling studies (kind 'labelling') only")
        return None
    top = DEFAULT_TOP_IMAGES if top is None else top
    random_count = DEFAULT_RANDOM_IMAGES if random_count is None else random_count
    if top < 0 or random_count < 0:
        raise StudyError("top and random images per task cannot be negative")
    if not 1 <= top + random_count <= MAX_IMAGES:
        raise StudyError(f"a labelling task asks about 1 to {MAX_IMAGES} images (top + random), got {top + random_count}")
    if attention_check_every:
        raise StudyError("attention checks are built for rating studies; a labelling study takes none (use 0)")
    if consistency_prompt:
        raise StudyError("the consistency prompt is about the best pick of a rating study; a labelling study has none")
    return top, random_count


def labelling_images(study: Study, neuron, top_images, dataset_id) -> list[tuple[int, float | None, str]]:
    """(probe image id, activation, sample) of the images every description of `neuron` is asked about: its
    top images, then `study.random_images_per_task` probing images drawn with the study's seed from the same
    probing set (whole images only, never one of the top ones shown)."""
    from explain.models import ProbeImage

    chosen = [(t.image_id, t.activation, StudyImage.Sample.TOP) for t in top_images]
    if not study.random_images_per_task:
        return chosen
    pool = ProbeImage.objects.filter(dataset_id=dataset_id, parent__isnull=True)
    candidates = list(pool.order_by("index").values_list("pk", flat=True))
    rng = random.Random(f"{study.seed}:{neuron.layer.name}:{neuron.unit}:random-images")
    shown = {image_id for image_id, _, _ in chosen}
    candidates = [image_id for image_id in candidates if image_id not in shown]
    drawn = rng.sample(candidates, min(study.random_images_per_task, len(candidates)))
    return chosen + [(image_id, None, StudyImage.Sample.RANDOM) for image_id in drawn]


def _image_rows(study_neuron, answers: Mapping | None = None, disabled=False):
    allowed = {value for value, _ in ANSWERS}
    rows = []
    for study_image in study_neuron.images.select_related("image").order_by("position"):
        chosen = str((answers or {}).get(f"shows-{study_image.position}", "") or "").strip()
        rows.append({
            "url": study_image.image.image.url,
            "number": study_image.position + 1,
            "field": f"shows-{study_image.position}",
            "chosen": chosen if chosen in allowed else "",
        })
    return rows


def labelling_form(study_neuron, text: str, answers: Mapping | None = None) -> dict:
    """What the labelling form shows of one task: the description, the images, each one's yes/no. No method,
    no sample (top/random), no explanation id."""
    return {
        "form_template": "evaluation/_labelling_form.html",
        "description": text,
        "question_prefix": QUESTION_PREFIX,
        "images": _image_rows(study_neuron, answers),
        "answer_choices": ANSWERS,
    }


def parse_labels(assignment, data: Mapping) -> dict[StudyImage, bool]:
    """The rater's yes/no for every image of the task; SubmissionError (nothing stored) for a missing answer,
    a value the page does not offer, or a field naming an image that is not part of this task."""
    images = {image.position: image for image in assignment.study_neuron.images.all()}
    fields = {f"shows-{position}" for position in images}
    for key in data.keys():
        if key.startswith("shows-") and key not in fields:
            raise SubmissionError("the form names an image that is not part of this task (stale or foreign page); reload the task")
    labels, missing = {}, []
    for position, image in sorted(images.items()):
        value = str(data.get(f"shows-{position}", "") or "").strip()
        if value == "":
            missing.append(str(position + 1))
        elif value not in {"yes", "no"}:
            raise SubmissionError(f"the answer for image {position + 1} must be yes or no, got a value the page does not offer")
        else:
            labels[image] = value == "yes"
    if missing:
        raise SubmissionError(f"answer every image: image{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                              "ha{} no answer".format("ve" if len(missing) > 1 else "s"))
    return labels


def answer_rows(study: Study, *, include_unverified: bool = False, include_excluded: bool = False) -> list[dict]:
    """Every stored labelling answer of the study, one dict per (response, image), in the columns of
    ANSWER_COLUMNS (those of scoring.people_concepts' answers CSV, plus where each came from). Attention
    checks never appear (a labelling study has none); unverified crowd answers and excluded responses are
    left out unless asked for."""
    from .exclusions import excluded_response_reasons
    from .models import ImageAnswer

    if study.kind != Study.Kind.LABELLING:
        raise StudyError(f"study '{study.name}' is a {study.kind} study; only labelling studies have image answers")
    answers = ImageAnswer.objects.filter(response__study=study, response__is_check=False).select_related(
        "response__rater", "item__method", "item__explanation", "study_image__image__dataset",
        "response__study_neuron__neuron__layer",
    ).order_by("response__pk", "study_image__position")
    if not include_unverified:
        answers = answers.filter(response__verified=True)
    excluded = set() if include_excluded else set(excluded_response_reasons(study))
    rows = []
    for answer in answers:
        if answer.response_id in excluded:
            continue
        neuron = answer.response.study_neuron.neuron
        explanation = answer.item.explanation
        rows.append({
            "network": study.network.name, "layer": neuron.layer.name, "probe": answer.study_image.image.dataset.name,
            "method": answer.item.method.name, "unit": neuron.unit,
            "rank": explanation.rank if explanation is not None else "",
            "image": answer.study_image.image.index, "sample": answer.study_image.sample,
            "answer": "yes" if answer.shows else "no", "rater": answer.response.rater_id, "response": answer.response_id,
        })
    return rows


def store_labels(response: Response, labels: Mapping[StudyImage, bool], item) -> None:
    from .models import ImageAnswer

    ImageAnswer.objects.bulk_create(
        ImageAnswer(response=response, item=item, study_image=image, shows=shows) for image, shows in labels.items()
    )
