from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ScimPortalConfig(AppConfig):
    name = "scim_portal"
    verbose_name = _("SCIM provisioning")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .permissions import ensure_permissions

        # Each declares the sentences it writes in English: in_language knows them all.
        from .provisioning import domains, exceptions, reconcile, safety, users  # noqa: F401

        post_migrate.connect(
            ensure_permissions, sender=self, dispatch_uid="scim_portal.ensure_permissions"
        )
