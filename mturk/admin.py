from django.contrib import admin

from evaluation.admin import VisibleStudiesAdmin
from evaluation.permissions import studies_visible_to

from .models import CrowdAssignment, Hit, LedgerEntry, MTurkDesign, ParticipantSession, ProlificDesign, Publication


class PublicationScopedAdmin(VisibleStudiesAdmin):
    """Crowd rows reach their study through their publication; a form offers only visible studies' publications.
    A ledger entry of no publication is shown to superusers only."""

    study_path = "publication__study"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "publication":
            kwargs["queryset"] = Publication.objects.filter(study__in=studies_visible_to(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class MTurkDesignInline(admin.StackedInline):
    model = MTurkDesign
    can_delete = False
    extra = 0


class ProlificDesignInline(admin.StackedInline):
    model = ProlificDesign
    can_delete = False
    extra = 0
    readonly_fields = ["prolific_study_id"]


@admin.register(Publication)
class PublicationAdmin(PublicationScopedAdmin):
    """A published design is frozen: the models refuse the change (clean), and the form shows why."""

    study_path = "study"
    list_display = ["study", "provider", "production", "reward", "invalid_policy", "published_at"]
    list_filter = ["provider", "production"]
    readonly_fields = ["published_at"]
    inlines = [MTurkDesignInline, ProlificDesignInline]

    def get_inline_instances(self, request, obj=None):
        wanted = {Publication.Provider.MTURK: MTurkDesignInline, Publication.Provider.PROLIFIC: ProlificDesignInline}
        inline = wanted.get(obj.provider) if obj is not None else None
        return [i for i in super().get_inline_instances(request, obj) if inline is not None and isinstance(i, inline)]


@admin.register(Hit)
class HitAdmin(PublicationScopedAdmin):
    list_display = ["hit_id", "publication", "study_neuron", "status", "max_assignments", "expires_at"]
    list_filter = ["status", ("publication", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["hit_id", "request_token"]


@admin.register(CrowdAssignment)
class CrowdAssignmentAdmin(PublicationScopedAdmin):
    list_display = ["external_id", "publication", "worker_id", "provider_status", "decision", "response_missing", "submitted_at"]
    list_filter = ["provider_status", "decision", "response_missing"]
    search_fields = ["external_id", "worker_id"]


@admin.register(ParticipantSession)
class ParticipantSessionAdmin(PublicationScopedAdmin):
    list_display = ["participant_id", "session_id", "publication", "completed_at"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(PublicationScopedAdmin):
    """Settle a PENDING entry here after checking the provider: DONE if it took effect, FAILED if not."""

    list_display = ["operation", "key", "state", "amount", "started_at", "finished_at"]
    list_filter = ["state", "operation"]
    search_fields = ["key"]
    readonly_fields = ["key", "operation", "params", "amount", "result", "started_at"]
