"""Who may call the management API."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from .. import permissions
from ..models import EnvironmentKey


def is_environment(request: Any) -> bool:
    return isinstance(request.auth, EnvironmentKey)


class AccountPermission(BasePermission):
    """An environment key may do anything; a person needs the account permission
    the view names for the method (read, create or delete provisioning)."""

    message = "You do not have the provisioning permission this needs on this account."

    def has_permission(self, request: Any, view: Any) -> bool:
        if is_environment(request):
            return True
        if not request.user or not request.user.is_authenticated:
            return False
        codename = view.permission_for(request)
        return permissions.has_account_perm(request.user, codename, view.account)


class EnvironmentOnly(BasePermission):
    """Calls across every account need an environment key."""

    message = "This endpoint needs an environment API key."

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_environment(request)
