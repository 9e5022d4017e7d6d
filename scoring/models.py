"""Automatic measures that sit beside the human ratings, stored per explanation or per unit."""
from django.db import models

from explain.models import Explanation, Neuron, PairKind, ProbeDataset


class SimulationScore(models.Model):
    """Algorithm 1's result for one explanation: the mean of the pass scores (100 x Pearson r)."""

    class StopReason(models.TextChoices):
        CI = "ci", "Confidence interval narrow enough"
        PASS_LIMIT = "pass_limit", "Pass limit reached"

    explanation = models.ForeignKey(Explanation, on_delete=models.CASCADE, related_name="simulation_scores")
    kind = models.CharField(max_length=10, choices=PairKind.choices, default=PairKind.CAPTION)
    llm_model = models.CharField(max_length=200)
    mean = models.FloatField(null=True, blank=True, help_text="Null when no pass could be scored.")
    ci_halfwidth = models.FloatField(null=True, blank=True)
    stop_reason = models.CharField(max_length=20, choices=StopReason.choices)
    few_shot_source = models.CharField(max_length=200, blank=True, help_text="hand-labelled, or method:<name>.")
    params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["explanation", "-created_at"]

    def __str__(self):
        return f"simulation {self.mean} for {self.explanation}"


class SimulationPass(models.Model):
    simulation = models.ForeignKey(SimulationScore, on_delete=models.CASCADE, related_name="passes")
    index = models.PositiveIntegerField()
    score = models.FloatField(null=True, blank=True, help_text="100 x Pearson r; null when the pass could not be scored.")
    reason = models.CharField(max_length=200, blank=True)
    n_pairs = models.PositiveIntegerField()
    n_parsed = models.PositiveIntegerField()
    n_malformed = models.PositiveIntegerField()
    n_missing = models.PositiveIntegerField()
    n_from_logprobs = models.PositiveIntegerField()
    details = models.JSONField(default=dict, blank=True, help_text="Descriptions, true values, predictions, malformed lines.")

    class Meta:
        ordering = ["simulation", "index"]
        constraints = [models.UniqueConstraint(fields=["simulation", "index"], name="unique_simulation_pass")]


def faithfulness_metric_choices() -> list[tuple[str, str]]:
    """`<metric>@<concept source>` for every faithfulness metric (scoring.faithfulness) and concept source."""
    from .faithfulness import METRICS
    from .concept_vectors import CONCEPT_SOURCES

    return [(f"{name}@{source}", f"{metric.label} ({label})") for name, metric in METRICS.items()
            for source, label in CONCEPT_SOURCES.items()]


class MetricScore(models.Model):
    """An automatic score of one explanation: agreement with a reference text, simulation, or faithfulness."""

    class Metric(models.TextChoices):
        TEXT_COSINE = "text-cosine", "Sentence-embedding cosine"
        CLIP_COSINE = "clip-cosine", "CLIP text cosine"
        BERTSCORE = "bertscore", "BERTScore F1"
        SIMULATION = "simulation", "Simulation score"
        COSY_AUC = "cosy-auc", "CoSy AUC (generated vs control images)"
        COSY_MAD = "cosy-mad", "CoSy mean activation difference"

    explanation = models.ForeignKey(Explanation, on_delete=models.CASCADE, related_name="metric_scores")
    metric = models.CharField(max_length=40, choices=Metric.choices + faithfulness_metric_choices())
    value = models.FloatField()
    reference = models.TextField(blank=True, help_text="The text compared with, e.g. the class name.")
    model_name = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["explanation", "metric"]
        constraints = [models.UniqueConstraint(fields=["explanation", "metric"], name="unique_metric_per_explanation")]


class AblationResult(models.Model):
    """Accuracy per class on a labelled probing set with one unit zeroed."""

    neuron = models.ForeignKey(Neuron, on_delete=models.CASCADE, related_name="ablations")
    dataset = models.ForeignKey(ProbeDataset, on_delete=models.CASCADE, related_name="+")
    n_images = models.PositiveIntegerField()
    baseline_accuracy = models.FloatField()
    ablated_accuracy = models.FloatField()
    per_class = models.JSONField(default=dict, help_text="{class: {n, baseline, ablated, drop}}")
    most_hurt_classes = models.JSONField(default=list, help_text="[[class, drop], ...] largest drop first.")
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["neuron"]
        constraints = [models.UniqueConstraint(fields=["neuron", "dataset"], name="unique_ablation_per_dataset")]