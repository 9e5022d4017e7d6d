"""Admin: studies and raters to manage; what raters answered and the rows the platform keeps for itself, read only."""
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html_join

from . import services
from .models import Assignment, CollectionStop, Exclusion, Rater, Rating, Response, Slot, Study, StudyImage, StudyItem, StudyMethod, StudyNeuron
from .permissions import studies_visible_to


class VisibleStudiesAdmin(admin.ModelAdmin):
    """Rows of the studies the user may see only (`study_path`: the lookup from the row to its study), and only
    those studies among a form's choices. Superusers see every row, rows of no study included."""

    study_path = "study"

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        return rows.filter(**{f"{self.study_path}__in": studies_visible_to(request.user)})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "study":
            kwargs["queryset"] = studies_visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyAdmin(VisibleStudiesAdmin):
    """Rows the platform writes itself (frozen study contents, slots, assignments, answers): look, never edit."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class StudyMethodInline(ReadOnlyInline):
    model = StudyMethod
    fields = ["method", "order", "explanation_rank"]
    readonly_fields = fields


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    """Studies are built on the study builder page (never empty); here their texts, sharing and life cycle."""

    list_display = ["name", "network", "kind", "status", "owner", "raters_per_neuron", "images_per_task", "ask_best",
                    "created_at"]
    list_filter = ["kind", "status", "network"]
    search_fields = ["name", "title"]
    inlines = [StudyMethodInline]
    actions = ["invite_three_raters", "enable_open_link", "open_study", "pause_study", "close_study"]
    filter_horizontal = ["collaborators"]
    fields = ["name", "title", "instructions", "exclusion_policy", "network", "kind", "top_images_per_task",
              "random_images_per_task", "status", "raters_per_neuron", "images_per_task", "ask_best",
              "attention_check_every", "consistency_prompt", "seed", "owner", "collaborators", "open_link_token", "created_at", "collection", "adaptive_min_raters",
              "adaptive_target_half_width", "adaptive_budget_responses", "adaptive_budget_money", "cost_per_response",
              "adaptive_draw_neurons", "adaptive_start_neurons", "collection_stopped"]
    readonly_fields = ["name", "network", "kind", "top_images_per_task", "random_images_per_task", "status",
                       "raters_per_neuron", "images_per_task", "ask_best", "attention_check_every", "consistency_prompt",
                       "seed",
                       "open_link_token", "created_at", "collection", "adaptive_min_raters", "adaptive_draw_neurons",
                       "adaptive_start_neurons", "collection_stopped"]

    @admin.display(description="Collection stopped")
    def collection_stopped(self, obj):
        stop = CollectionStop.objects.filter(study=obj).first()
        if stop is None:
            return "-"
        return f"{stop} ({', '.join(f'{key}: {value}' for key, value in stop.figures.items() if key != 'half_widths')})"

    def get_queryset(self, request):
        return studies_visible_to(request.user)

    def add_view(self, request, form_url="", extra_context=None):
        # The admin's add form could only save a study without neurons; the builder freezes them.
        self.message_user(request, "Studies are created on the study builder page, which picks their neurons.",
                          messages.INFO)
        return redirect(reverse("evaluation:study_builder"))

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_deleted_objects(self, objs, request):
        # A study's frozen contents, tasks and answers go with it; on their own they are read only (no delete
        # permission), which would otherwise refuse every study deletion.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, perms_needed - _read_only_names(), protected

    @admin.action(description="Invite 3 raters (shows their links)")
    def invite_three_raters(self, request, queryset):
        for study in queryset:
            for rater in services.invite_raters(study, 3):
                self.message_user(request, f"New rater link for {study.name}: {services.rater_link(rater)}", messages.SUCCESS)

    @admin.action(description="Enable the open volunteer link")
    def enable_open_link(self, request, queryset):
        for study in queryset:
            self.message_user(request, f"Open volunteer link for {study.name}: {services.enable_open_link(study)}", messages.SUCCESS)

    def _change_status(self, request, queryset, status):
        for study in queryset:
            try:
                services.change_status(study, status)
            except services.StudyError as error:
                self.message_user(request, f"{study.name}: {error}", messages.ERROR)
            else:
                self.message_user(request, f"{study.name} is now {status}.", messages.SUCCESS)

    @admin.action(description="Open for rating")
    def open_study(self, request, queryset):
        self._change_status(request, queryset, Study.Status.OPEN)

    @admin.action(description="Pause")
    def pause_study(self, request, queryset):
        self._change_status(request, queryset, Study.Status.PAUSED)

    @admin.action(description="Close")
    def close_study(self, request, queryset):
        self._change_status(request, queryset, Study.Status.CLOSED)


@admin.register(Rater)
class RaterAdmin(admin.ModelAdmin):
    list_display = ["__str__", "study", "kind", "external_id", "link", "created_at"]
    list_filter = [("study", admin.RelatedOnlyFieldListFilter), "kind"]
    search_fields = ["external_id", "label"]
    fields = ["study", "kind", "external_id", "label", "link", "created_at"]
    readonly_fields = ["study", "kind", "external_id", "link", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(study__in=studies_visible_to(request.user))

    def has_add_permission(self, request):
        return False  # raters come from invitations, open links and crowd providers

    @admin.display(description="Link")
    def link(self, rater):
        return services.rater_link(rater) if rater.pk else ""


class RatingInline(ReadOnlyInline):
    model = Rating
    fields = ["position", "method", "description", "value"]
    readonly_fields = fields
    ordering = ["position"]

    @admin.display(description="Method")
    def method(self, rating):
        return rating.item.method.name

    @admin.display(description="Description")
    def description(self, rating):
        return rating.item.text


@admin.register(Response)
class ResponseAdmin(ReadOnlyAdmin):
    """An answer as submitted: every description shown, its method and rating; nothing here can be edited."""

    list_display = ["pk", "study", "rater", "study_neuron", "is_valid", "invalid_reason", "source", "submitted_at"]
    list_filter = [("study", admin.RelatedOnlyFieldListFilter), "is_valid", "source"]
    list_select_related = ["study", "rater", "study_neuron__study", "study_neuron__neuron__layer"]
    fields = ["study", "rater", "study_neuron", "best_description", "uninterpretable", "none_fit", "is_valid",
              "invalid_reason", "source", "external_id", "submitted_at", "exclusions"]
    readonly_fields = fields
    inlines = [RatingInline]

    @admin.display(description="Picked as best")
    def best_description(self, response):
        item = response.best_item
        return f"{item.text} ({item.method.name})" if item else "-"

    @admin.display(description="Exclusions")
    def exclusions(self, response):
        rows = Exclusion.objects.filter(study=response.study, lifted_at__isnull=True).filter(
            response=response) | Exclusion.objects.filter(rater=response.rater, lifted_at__isnull=True)
        return format_html_join(", ", "{}", ((e.reason,) for e in rows)) or "-"


@admin.register(Exclusion)
class ExclusionAdmin(ReadOnlyAdmin):
    """Exclusions are made and lifted on the study's pages (with their reason and author); here they are read only."""

    list_display = ["study", "rater", "response", "reason", "created_by", "created_at", "lifted_at"]
    list_filter = [("study", admin.RelatedOnlyFieldListFilter)]
    readonly_fields = ["study", "rater", "response", "reason", "created_by", "created_at", "lifted_by", "lifted_at"]


# Internal rows: what a study froze at creation and how tasks were handed out. Read only: the services write them.


@admin.register(StudyNeuron)
class StudyNeuronAdmin(ReadOnlyAdmin):
    list_display = ["study", "neuron", "order"]
    list_filter = [("study", admin.RelatedOnlyFieldListFilter)]


@admin.register(StudyImage)
class StudyImageAdmin(ReadOnlyAdmin):
    study_path = "study_neuron__study"
    list_display = ["study_neuron", "position", "image", "activation"]


@admin.register(StudyItem)
class StudyItemAdmin(ReadOnlyAdmin):
    study_path = "study_neuron__study"
    list_display = ["study_neuron", "method", "text"]
    list_filter = ["method"]


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    study_path = "study_neuron__study"
    list_display = ["rater", "study_neuron", "status", "reserved_at", "expires_at", "completed_at"]
    list_filter = ["status"]


@admin.register(Slot)
class SlotAdmin(ReadOnlyAdmin):
    study_path = "assignment__study_neuron__study"
    list_display = ["assignment", "position", "item"]


def _read_only_names() -> set[str]:
    """The verbose names of the models this admin shows read only (as get_deleted_objects lists them)."""
    return {str(model._meta.verbose_name) for model, model_admin in admin.site._registry.items()
            if isinstance(model_admin, ReadOnlyAdmin)}
