from django.contrib import admin, messages

from . import services
from .permissions import studies_visible_to
from .models import Assignment, Exclusion, Rater, Rating, Response, Slot, Study, StudyImage, StudyItem, StudyMethod, StudyNeuron


class StudyMethodInline(admin.TabularInline):
    model = StudyMethod
    extra = 0


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ["name", "network", "status", "raters_per_neuron", "images_per_task", "ask_best", "created_at"]
    list_filter = ["status", "network"]
    search_fields = ["name", "title"]
    inlines = [StudyMethodInline]
    actions = ["invite_three_raters", "enable_open_link", "open_study", "close_study"]
    filter_horizontal = ["collaborators"]

    def get_queryset(self, request):
        return studies_visible_to(request.user)

    def save_model(self, request, obj, form, change):
        if not change and obj.owner_id is None:
            obj.owner = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Invite 3 raters (shows their links)")
    def invite_three_raters(self, request, queryset):
        for study in queryset:
            for rater in services.invite_raters(study, 3):
                self.message_user(request, f"New rater link for {study.name}: {services.rater_link(rater)}", messages.SUCCESS)

    @admin.action(description="Enable the open volunteer link")
    def enable_open_link(self, request, queryset):
        for study in queryset:
            self.message_user(request, f"Open volunteer link for {study.name}: {services.enable_open_link(study)}", messages.SUCCESS)

    @admin.action(description="Open for rating")
    def open_study(self, request, queryset):
        queryset.update(status=Study.Status.OPEN)

    @admin.action(description="Close")
    def close_study(self, request, queryset):
        queryset.update(status=Study.Status.CLOSED)


@admin.register(StudyMethod)
class StudyMethodAdmin(admin.ModelAdmin):
    list_display = ["study", "method", "order", "explanation_rank"]
    list_filter = ["study"]


@admin.register(StudyNeuron)
class StudyNeuronAdmin(admin.ModelAdmin):
    list_display = ["study", "neuron", "order"]
    list_filter = ["study"]
    raw_id_fields = ["neuron"]


@admin.register(StudyImage)
class StudyImageAdmin(admin.ModelAdmin):
    list_display = ["study_neuron", "position", "image", "activation"]
    raw_id_fields = ["study_neuron", "image"]


@admin.register(StudyItem)
class StudyItemAdmin(admin.ModelAdmin):
    list_display = ["study_neuron", "method", "text"]
    list_filter = ["method"]
    raw_id_fields = ["study_neuron", "explanation"]


@admin.register(Rater)
class RaterAdmin(admin.ModelAdmin):
    list_display = ["__str__", "study", "kind", "external_id", "link", "created_at"]
    list_filter = ["study", "kind"]
    search_fields = ["external_id", "label"]
    readonly_fields = ["link"]

    @admin.display(description="Link")
    def link(self, rater):
        return services.rater_link(rater) if rater.pk else ""


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["rater", "study_neuron", "status", "reserved_at", "expires_at", "completed_at"]
    list_filter = ["status"]
    raw_id_fields = ["rater", "study_neuron"]


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    list_display = ["assignment", "position", "item"]
    raw_id_fields = ["assignment", "item"]


class RatingInline(admin.TabularInline):
    model = Rating
    extra = 0
    raw_id_fields = ["item"]


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ["pk", "study", "rater", "study_neuron", "is_valid", "invalid_reason", "source", "submitted_at"]
    list_filter = ["study", "is_valid", "source"]
    raw_id_fields = ["rater", "study_neuron", "assignment", "best_item"]
    inlines = [RatingInline]


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["response", "item", "position", "value"]
    raw_id_fields = ["response", "item"]


@admin.register(Exclusion)
class ExclusionAdmin(admin.ModelAdmin):
    """Exclusions are made and lifted on the study page (with their reason and author); here they are read only."""

    list_display = ["study", "rater", "response", "reason", "created_by", "created_at", "lifted_at"]
    list_filter = ["study"]
    readonly_fields = ["study", "rater", "response", "reason", "created_by", "created_at", "lifted_by", "lifted_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
