"""Django admin for the brake: every removal the identity providers asked for (held,
approved, rejected...) and the deleted users kept restorable, read-only for support.

Staff with the change permission on removals may approve or reject held ones (an
action); the decision goes through :func:`scim_portal.provisioning.safety.decide`, with
the staff member as actor, connection by connection.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ._sentences import in_language
from .admin import ConnectionFilter, ReadOnlyAdmin
from .models import Connection, DeletedUser, Removal, RemovalState
from .provisioning import safety
from .provisioning.events import Actor
from .provisioning.exceptions import HostProvisioningFailed


@admin.register(Removal)
class RemovalAdmin(ReadOnlyAdmin):
    list_display = (
        "at", "user_name", "kind", "state", "connection", "reason", "decided_by", "decided_at",
    )  # fmt: skip
    list_filter = ("state", "kind", ConnectionFilter)
    search_fields = ("user_name", "=user_id")
    list_select_related = ("connection", "decided_by")
    date_hierarchy = "at"
    actions = ["approve_held", "reject_held"]

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("scim_portal.change_removal"))

    @admin.action(description=_("Approve the selected held removals"), permissions=["decide"])
    def approve_held(self, request: HttpRequest, queryset: QuerySet[Removal]) -> None:
        self._decide(request, queryset, RemovalState.APPROVED)

    @admin.action(description=_("Reject the selected held removals"), permissions=["decide"])
    def reject_held(self, request: HttpRequest, queryset: QuerySet[Removal]) -> None:
        self._decide(request, queryset, RemovalState.REJECTED)

    def _decide(self, request: HttpRequest, queryset: QuerySet[Removal], state: str) -> None:
        chosen: dict[Any, list[int]] = defaultdict(list)
        for connection_id, pk in queryset.filter(state=RemovalState.HELD).values_list(
            "connection_id", "pk"
        ):
            chosen[connection_id].append(pk)
        if not chosen:
            self.message_user(
                request, gettext("None of the selected removals is held."), messages.INFO
            )
            return
        actor = Actor.for_user(request.user, via="admin")
        for connection in Connection.objects.filter(pk__in=chosen).select_related("account"):
            try:
                done = safety.decide(
                    connection, RemovalState(state), chosen[connection.pk], actor=actor
                )
            except HostProvisioningFailed as exc:
                # Translators: a connection, its account, and why the decision failed.
                message = gettext("%(connection)s (%(account)s): %(error)s") % {
                    "connection": connection, "account": connection.account,
                    "error": in_language(str(exc)),
                }  # fmt: skip
                self.message_user(request, message, messages.ERROR)
                continue
            counts = {
                "connection": connection,
                "account": connection.account,
                "count": done.removals,
                "deactivated": done.memberships_deactivated,
                "removed": done.memberships_removed,
                "host_users": done.host_users_deactivated,
            }
            if state == RemovalState.APPROVED:
                message = gettext(
                    "%(connection)s (%(account)s): %(count)s approved; memberships "
                    "deactivated: %(deactivated)s, memberships removed: %(removed)s, host "
                    "users deactivated: %(host_users)s."
                )
            else:
                message = gettext(
                    "%(connection)s (%(account)s): %(count)s rejected; nothing changed in the host."
                )
            self.message_user(request, message % counts, messages.SUCCESS)


class RestorableFilter(admin.SimpleListFilter):
    title = _("restorable")
    parameter_name = "restorable"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Restorable")), ("no", _("Past the grace period"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(purge_after__gt=timezone.now())
        if self.value() == "no":
            return queryset.filter(purge_after__lte=timezone.now())
        return queryset


@admin.register(DeletedUser)
class DeletedUserAdmin(ReadOnlyAdmin):
    """Kept copies of deleted directory users; tenant admins restore them in the
    Provisioning tab (or through the API)."""

    list_display = (
        "user_name", "connection", "email", "host_user", "group_count", "deleted_at",
        "purge_after",
    )  # fmt: skip
    list_filter = (RestorableFilter, ConnectionFilter)
    search_fields = ("user_name", "email", "=id", "=external_id")
    list_select_related = ("connection", "host_user")
    date_hierarchy = "deleted_at"

    @admin.display(description=_("groups"))
    def group_count(self, copy: DeletedUser) -> int:
        return len(copy.groups)
