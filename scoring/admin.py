from django.contrib import admin

from .models import AblationResult, MetricScore, SimulationPass, SimulationScore


class SimulationPassInline(admin.TabularInline):
    model = SimulationPass
    extra = 0
    fields = ("index", "score", "reason", "n_pairs", "n_parsed", "n_malformed", "n_missing", "n_from_logprobs")
    readonly_fields = fields


@admin.register(SimulationScore)
class SimulationScoreAdmin(admin.ModelAdmin):
    list_display = ("explanation", "kind", "mean", "ci_halfwidth", "stop_reason", "llm_model", "created_at")
    list_filter = ("kind", "stop_reason", "explanation__method")
    inlines = [SimulationPassInline]


@admin.register(MetricScore)
class MetricScoreAdmin(admin.ModelAdmin):
    list_display = ("explanation", "metric", "value", "reference", "model_name")
    list_filter = ("metric", "explanation__method")


@admin.register(AblationResult)
class AblationResultAdmin(admin.ModelAdmin):
    list_display = ("neuron", "dataset", "baseline_accuracy", "ablated_accuracy", "most_hurt_classes")
    list_filter = ("dataset",)
