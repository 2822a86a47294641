"""Django admin for vendor staff: connections of every account and their tokens."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from .models import Connection, ConnectionToken


class ConnectionTokenInline(admin.TabularInline):
    model = ConnectionToken
    extra = 0
    can_delete = False
    fields = ("prefix", "label", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = fields

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        # Tokens are issued by the service layer, which shows the raw value once.
        return False


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "provider", "created_at", "last_request_at")
    list_filter = ("provider",)
    search_fields = ("name", "id")
    readonly_fields = ("id", "created_by", "created_at", "last_request_at")
    inlines = [ConnectionTokenInline]
    list_select_related = ("account",)

    def has_add_permission(self, request: Any) -> bool:
        # A connection is born with a token that must be shown once; the portal, the
        # management API and ``manage.py scim_portal create-connection`` do that.
        return False
