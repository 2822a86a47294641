"""The three per-account permissions a tenant admin knows from Frontegg.

They are permissions of the host's account model, granted per account object
with django-guardian (usually to roles, i.e. Django groups), and checked with
``user.has_perm(perm, account)``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType

from .conf import get_account_model

READ = "read_provisioning"
CREATE = "create_provisioning"
DELETE = "delete_provisioning"

PERMISSIONS: dict[str, str] = {
    READ: "Can read SCIM provisioning configurations",
    CREATE: "Can create SCIM provisioning configurations",
    DELETE: "Can delete SCIM provisioning configurations",
}


def perm_name(codename: str) -> str:
    """``"app_label.codename"`` for one of the permissions above."""
    return f"{get_account_model()._meta.app_label}.{codename}"


def has_account_perm(user: Any, codename: str, account: Any) -> bool:
    """Whether ``user`` holds permission ``codename`` on ``account``."""
    return bool(user.has_perm(perm_name(codename), account))


def ensure_permissions(**kwargs: Any) -> None:
    """Create the permissions on the account model's content type (post_migrate)."""
    model = get_account_model()
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=True)
    for codename, name in PERMISSIONS.items():
        Permission.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
