"""CoSy: AUC and mean activation difference by hand, and the job with the tiny text-to-image pipeline."""
import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command

import foundation
from tests.fakes.tiny_models import tiny_text_to_image
from scoring.cosy import CosyParams, cosy_auc, cosy_mad, prompts_for
from scoring.models import MetricScore

from .conftest import add_explanations


def test_auc_counts_generated_images_above_control_images():
    assert cosy_auc([3.0, 4.0], [1.0, 2.0]) == 1.0
    assert cosy_auc([1.0, 2.0], [3.0, 4.0]) == 0.0
    # Generated 2 and 5 against control 1, 3, 4: 2 beats 1; 5 beats all -> 4 of 6 pairs.
    assert cosy_auc([2.0, 5.0], [1.0, 3.0, 4.0]) == pytest.approx(4 / 6)


def test_mad_is_the_mean_difference_in_control_standard_deviations():
    control = np.array([1.0, 3.0])  # mean 2, std 1
    assert cosy_mad([4.0, 6.0], control) == pytest.approx(3.0)
    assert cosy_mad([2.0], [2.0, 2.0]) == 0.0
    with pytest.raises(ValueError, match="at least one"):
        cosy_mad([], control)


def test_prompts_follow_the_photo_template():
    assert prompts_for(" red circle ", CosyParams(images_per_explanation=2)) == ["a realistic photo of red circle"] * 2


@pytest.fixture
def explained(random_demo_layer):
    layer, probe = random_demo_layer(n_images=30)
    add_explanations(layer, {"m": ["red", "stripes"]})
    return probe


def test_cosy_scores_every_explanation_with_the_tiny_pipeline(explained, tmp_path):
    out = io.StringIO()
    with foundation.override(text_to_image=tiny_text_to_image(tmp_path)):
        call_command("score_explanations", network="random-demo", layer="conv4", metric="cosy", probe=explained.name,
                     cosy_images=3, cosy_controls=10, stdout=out)
    aucs = MetricScore.objects.filter(metric="cosy-auc")
    assert aucs.count() == 2 and all(0.0 <= s.value <= 1.0 for s in aucs)
    assert MetricScore.objects.filter(metric="cosy-mad").count() == 2
    score = aucs.get(explanation__text="red")
    assert score.reference == "a realistic photo of red" and score.details["images_per_explanation"] == 3
    assert "m\tcosy-auc\t" in out.getvalue()


def test_cosy_without_a_probe_or_images_is_refused(explained, tmp_path):
    with pytest.raises(CommandError, match="needs --probe"):
        call_command("score_explanations", network="random-demo", layer="conv4", metric="cosy")
    with foundation.override(text_to_image=tiny_text_to_image(tmp_path)), pytest.raises(CommandError, match="at least one"):
        call_command("score_explanations", network="random-demo", layer="conv4", metric="cosy", probe=explained.name, cosy_images=0)
    assert not MetricScore.objects.exists()
