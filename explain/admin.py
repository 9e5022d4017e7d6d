from django.contrib import admin

from explain.models import (Explanation, FewShotExample, Job, JobChunk, Layer, Method, Network, Neuron, ProbeDataset, ProbeImage,
                            TopImage)


@admin.register(Network)
class NetworkAdmin(admin.ModelAdmin):
    list_display = ("name", "architecture", "weights_source", "created_at")
    search_fields = ("name", "architecture")


@admin.register(Layer)
class LayerAdmin(admin.ModelAdmin):
    list_display = ("network", "name", "unit_count", "order")
    list_filter = ("network",)


@admin.register(Neuron)
class NeuronAdmin(admin.ModelAdmin):
    list_display = ("layer", "unit")
    list_filter = ("layer__network", "layer")
    list_select_related = ("layer__network",)


@admin.register(ProbeDataset)
class ProbeDatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "seed", "source", "created_at")
    list_filter = ("kind",)


@admin.register(ProbeImage)
class ProbeImageAdmin(admin.ModelAdmin):
    list_display = ("dataset", "index", "image", "class_index", "caption")
    list_filter = ("dataset",)
    search_fields = ("caption",)
    raw_id_fields = ("parent",)


@admin.register(TopImage)
class TopImageAdmin(admin.ModelAdmin):
    list_display = ("neuron", "rank", "activation", "summary", "image")
    list_filter = ("summary", "dataset", "neuron__layer")
    raw_id_fields = ("neuron", "image")
    exclude = ("activation_map",)


@admin.register(Method)
class MethodAdmin(admin.ModelAdmin):
    list_display = ("name", "display_name", "kind")
    list_filter = ("kind",)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("pk", "kind", "status", "progress_done", "progress_total", "progress_message", "created_at", "finished_at")
    list_filter = ("status", "kind")
    readonly_fields = ("created_at", "started_at", "finished_at")

    def get_deleted_objects(self, objs, request):
        # A job's chunks go with it (on their own they are read only, which would otherwise refuse the deletion).
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, perms_needed - {str(JobChunk._meta.verbose_name)}, protected


@admin.register(Explanation)
class ExplanationAdmin(admin.ModelAdmin):
    list_display = ("neuron", "method", "rank", "text", "score", "score_name", "job", "source_file", "source_row")
    list_filter = ("method", "neuron__layer__network", "neuron__layer")
    search_fields = ("text",)
    raw_id_fields = ("neuron", "job")
    list_select_related = ("method", "neuron__layer__network")


@admin.register(JobChunk)
class JobChunkAdmin(admin.ModelAdmin):
    """Written by the job runner and its workers (claims, attempts, progress): shown, never edited by hand."""

    list_display = ("job", "index", "status", "attempts", "worker", "started_at", "finished_at")
    list_filter = ("status",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(FewShotExample)
class FewShotExampleAdmin(admin.ModelAdmin):
    list_display = ("layer", "unit", "kind", "explanation")
    list_filter = ("kind", "layer__network")
    search_fields = ("explanation",)
