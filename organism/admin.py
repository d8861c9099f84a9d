"""Admin for API tokens (hash only; the raw token is shown once on creation) and the audit log."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from organism.models import ApiToken, AuditEntry, hash_token, new_raw_token
from organism.services import audit_record


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["user", "name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = ApiTokenForm
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["user__username", "name", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        return ["user", "name"] if obj is None else ["user", "name", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        if not change:
            raw = new_raw_token()
            obj.prefix = raw[:10]
            obj.token_hash = hash_token(raw)
            super().save_model(request, obj, form, change)
            audit_record(user=request.user, action="api_token.create", target=obj.prefix)
            messages.warning(request, f"Token for {obj.user}: {raw} (copy it now; it is not shown again)")
        else:
            super().save_model(request, obj, form, change)

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at=None).update(revoked_at=timezone.now())
        audit_record(user=request.user, action="api_token.revoke", details={"count": count})
        self.message_user(request, f"Revoked {count} token(s).")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "user", "action", "target"]
    list_filter = ["action"]
    search_fields = ["action", "target", "user__username"]
    readonly_fields = ["at", "user", "action", "target", "details"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
