from django.contrib import admin

from .models import CrowdAssignment, Hit, LedgerEntry, MTurkDesign, ParticipantSession, ProlificDesign, Publication


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
class PublicationAdmin(admin.ModelAdmin):
    """A published design is frozen: the models refuse the change (clean), and the form shows why."""

    list_display = ["study", "provider", "production", "reward", "invalid_policy", "published_at"]
    list_filter = ["provider", "production"]
    readonly_fields = ["published_at"]
    inlines = [MTurkDesignInline, ProlificDesignInline]

    def get_inline_instances(self, request, obj=None):
        wanted = {Publication.Provider.MTURK: MTurkDesignInline, Publication.Provider.PROLIFIC: ProlificDesignInline}
        inline = wanted.get(obj.provider) if obj is not None else None
        return [i for i in super().get_inline_instances(request, obj) if inline is not None and isinstance(i, inline)]


@admin.register(Hit)
class HitAdmin(admin.ModelAdmin):
    list_display = ["hit_id", "publication", "study_neuron", "status", "max_assignments", "expires_at"]
    list_filter = ["status", "publication"]
    search_fields = ["hit_id", "request_token"]


@admin.register(CrowdAssignment)
class CrowdAssignmentAdmin(admin.ModelAdmin):
    list_display = ["external_id", "publication", "worker_id", "provider_status", "decision", "response_missing", "submitted_at"]
    list_filter = ["provider_status", "decision", "response_missing"]
    search_fields = ["external_id", "worker_id"]


@admin.register(ParticipantSession)
class ParticipantSessionAdmin(admin.ModelAdmin):
    list_display = ["participant_id", "session_id", "publication", "completed_at"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    """Settle a PENDING entry here after checking the provider: DONE if it took effect, FAILED if not."""

    list_display = ["operation", "key", "state", "amount", "started_at", "finished_at"]
    list_filter = ["state", "operation"]
    search_fields = ["key"]
    readonly_fields = ["key", "operation", "params", "amount", "result", "started_at"]
