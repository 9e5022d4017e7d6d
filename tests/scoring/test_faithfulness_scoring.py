"""score_explanations with faithfulness metrics: concept vectors from labels or CLIP, stored as metric scores."""
import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command

import foundation
from explain.activations import get_activation_cache
from tests.fakes.tiny_models import tiny_clip_embedder
from explain.probes import get_probe_set
from demo.synthetic import CONCEPT_NAMES
from scoring.faithfulness import METRICS, ConceptVector
from scoring.models import MetricScore

from .conftest import add_explanations


@pytest.fixture
def explained(random_demo_layer):
    layer, probe = random_demo_layer(n_images=60)
    add_explanations(layer, {"labels-a": ["red", "a blue circle", "a cat"], "labels-b": ["stripes", "green", "square"]})
    return layer.network, probe


def test_label_concepts_score_every_metric_and_skip_explanations_naming_no_concept(explained):
    network, probe = explained
    out, err = io.StringIO(), io.StringIO()
    call_command("score_explanations", network="random-demo", layer="conv4", metric="faithfulness", probe=probe.name,
                 concepts="labels", stdout=out, stderr=err)
    # 5 explanations name concepts ("a cat" does not), each scored by all 9 metrics.
    assert MetricScore.objects.filter(metric__endswith="@labels").count() == 5 * len(METRICS)
    assert "1 explanation(s) name no labelled concept" in err.getvalue() and "a cat" in err.getvalue()
    printed = {(line.split("\t")[0], line.split("\t")[1]) for line in out.getvalue().splitlines()}
    assert ("labels-a", "auprc@labels") in printed and ("labels-b", "pearson@labels") in printed

    # The stored value is the metric on the unit's activations and the images showing blue and a circle.
    activations = get_activation_cache(network, probe, "conv4").summaries()
    probe_set = get_probe_set(probe)
    presence = probe_set.concept_presence().astype(bool)
    wanted = presence[:, CONCEPT_NAMES.index("blue")] & presence[:, CONCEPT_NAMES.index("circle")]
    score = MetricScore.objects.get(explanation__text="a blue circle", metric="auprc@labels")
    assert score.value == pytest.approx(METRICS["auprc"](np.asarray(activations[:, 1], dtype=np.float64), ConceptVector.from_labels(wanted)))
    assert score.reference == "blue + circle" and score.details["positives"] == int(wanted.sum())


def test_clip_concepts_come_from_the_clip_adapter(explained):
    network, probe = explained
    out = io.StringIO()
    with foundation.override(clip=tiny_clip_embedder()):
        call_command("score_explanations", "--metric=pearson,f1", network="random-demo", layer="conv4", probe=probe.name,
                     concepts="clip", method=["labels-a"], stdout=out)
    scores = MetricScore.objects.filter(metric__in=["pearson@clip", "f1@clip"])
    assert scores.count() == 6  # "a cat" is scored too: CLIP needs no label
    assert {s.model_name for s in scores} == {"tiny"}
    assert all(-1.0 <= s.value <= 1.0 for s in scores)


def test_faithfulness_requests_that_cannot_work_are_command_errors(explained):
    network, probe = explained
    with pytest.raises(CommandError, match="need --probe"):
        call_command("score_explanations", network="random-demo", layer="conv4", metric="pearson")
    with pytest.raises(CommandError, match="no probing dataset named 'nope'"):
        call_command("score_explanations", network="random-demo", layer="conv4", metric="pearson", probe="nope")
    with pytest.raises(CommandError, match="cannot be mixed"):
        call_command("score_explanations", "--metric=pearson,text-cosine", network="random-demo", layer="conv4",
                     probe=probe.name)
    with pytest.raises(CommandError, match="unknown metric recal"):
        call_command("score_explanations", network="random-demo", layer="conv4", metric="pearson,recal", probe=probe.name)
    assert MetricScore.objects.count() == 0


def write_answers(path, rows):
    path.write_text("method,unit,image,answer,rater\n" + "".join(",".join(map(str, row)) + "\n" for row in rows))
    return path


def test_people_answers_become_concept_vectors_over_the_images_they_saw(explained, tmp_path):
    network, probe = explained
    # Two raters about "red" (labels-a, unit 0) on images 0-3; they disagree on image 2 (a tie counts as no).
    answers = write_answers(tmp_path / "answers.csv", [
        ("labels-a", 0, 0, "yes", "p1"), ("labels-a", 0, 0, "yes", "p2"),
        ("labels-a", 0, 1, "no", "p1"), ("labels-a", 0, 1, "no", "p2"),
        ("labels-a", 0, 2, "yes", "p1"), ("labels-a", 0, 2, "no", "p2"),
        ("labels-a", 0, 3, "yes", "p1"), ("labels-a", 0, 3, "1", "p2"),
    ])
    out = io.StringIO()
    call_command("score_explanations", network="random-demo", layer="conv4", metric="pearson,recall", probe=probe.name,
                 concepts="people", answers=str(answers), stdout=out)
    score = MetricScore.objects.get(metric="pearson@people")
    activations = np.asarray(get_activation_cache(network, probe, "conv4").summaries()[:4, 0], dtype=np.float64)
    people = ConceptVector(values=np.array([1.0, 0.0, 0.5, 1.0]), labels=np.array([True, False, False, True]))
    assert score.value == pytest.approx(METRICS["pearson"](activations, people))
    assert score.details["images"] == 4 and score.details["answers"] == 8 and score.details["positives"] == 2
    assert MetricScore.objects.filter(metric="recall@people").count() == 1
    assert "labels-a\tpearson@people\t" in out.getvalue()


def test_bad_answer_files_name_the_row_and_store_nothing(explained, tmp_path):
    network, probe = explained
    bad = write_answers(tmp_path / "bad.csv", [("labels-a", 0, 0, "maybe", "p1"), ("labels-a", 0, 1, "yes", "p1")])
    with pytest.raises(CommandError, match=r"bad.csv, row 2: answer 'maybe' is not yes/no"):
        call_command("score_explanations", network="random-demo", layer="conv4", metric="pearson", probe=probe.name,
                     concepts="people", answers=str(bad))
    unknown = write_answers(tmp_path / "unknown.csv", [("labels-a", 0, 0, "yes", "p1"), ("nobody", 0, 1, "yes", "p1"),
                                                       ("labels-a", 0, 999, "no", "p1")])
    with pytest.raises(CommandError, match=r"row 3: no explanation by 'nobody' of unit 0") as error:
        call_command("score_explanations", network="random-demo", layer="conv4", metric="pearson", probe=probe.name,
                     concepts="people", answers=str(unknown))
    assert "row 4: image 999 is outside probing set" in str(error.value)
    with pytest.raises(CommandError, match="need both --concepts people and --answers"):
        call_command("score_explanations", network="random-demo", layer="conv4", metric="pearson", probe=probe.name,
                     concepts="people")
    assert not MetricScore.objects.exists()


def test_the_sample_column_says_how_many_top_and_random_images_a_score_rests_on(explained, tmp_path):
    network, probe = explained
    answers = tmp_path / "sampled.csv"
    answers.write_text("method,unit,image,answer,sample\nlabels-a,0,0,yes,top\nlabels-a,0,1,no,random\n"
                       "labels-a,0,2,no,random\n")
    call_command("score_explanations", network="random-demo", layer="conv4", metric="pearson", probe=probe.name,
                 concepts="people", answers=str(answers))
    details = MetricScore.objects.get(metric="pearson@people").details
    assert (details["top_images"], details["random_images"], details["images"]) == (1, 2, 3)
    answers.write_text("method,unit,image,answer,sample\nlabels-a,0,0,yes,best\n")
    with pytest.raises(CommandError, match=r"sampled.csv, row 2: sample 'best' is not one of top, random"):
        call_command("score_explanations", network="random-demo", layer="conv4", metric="pearson", probe=probe.name,
                     concepts="people", answers=str(answers))
