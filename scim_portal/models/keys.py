"""Environment API keys: the vendor's own automation, across every account."""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import _secrets

KEY_PREFIX = "scimpenv_"


class EnvironmentKeyQuerySet(models.QuerySet["EnvironmentKey"]):
    def by_value(self, raw: str) -> EnvironmentKey | None:
        """The unrevoked key whose value is ``raw``, or None."""
        if not raw or not raw.startswith(KEY_PREFIX) or len(raw) > 200:
            return None
        digest = _secrets.digest(raw)
        found = list(self.filter(digest=digest, revoked_at__isnull=True).order_by()[:1])
        key = found[0] if found else None
        if key is None or not hmac.compare_digest(key.digest, digest):
            return None
        return key


class EnvironmentKey(models.Model):
    """A management-API key of the whole environment (Frontegg's "environment token").

    It may list, create and delete connections of every account. Only its SHA-256
    digest is stored; the raw value is shown once, when it is issued in admin.
    """

    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=len(KEY_PREFIX) + 8, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = EnvironmentKeyQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("environment API key")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, name: str, created_by: Any = None) -> tuple[EnvironmentKey, str]:
        """Create a key; returns it and its raw value (the only time it is available)."""
        raw = _secrets.generate(KEY_PREFIX)
        key = cls.objects.create(
            name=name,
            digest=_secrets.digest(raw),
            prefix=_secrets.display_prefix(raw, KEY_PREFIX),
            created_by=created_by,
        )
        return key, raw

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
