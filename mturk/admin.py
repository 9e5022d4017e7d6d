from django.contrib import admin

from .models import CrowdAssignment, Hit, LedgerEntry, ParticipantSession, Publication


@admin.register(Publication)
class PublicationAdmin(admin.ModelAdmin):
    list_display = ["study", "provider", "production", "reward", "invalid_policy", "external_id", "published_at"]
    list_filter = ["provider", "production"]


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
