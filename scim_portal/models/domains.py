"""Email domains an account has proven it owns (a DNS TXT record, or vendor staff)."""

from __future__ import annotations

import secrets

import idna
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..conf import app_settings, get_account_model_label


class VerificationMethod(models.TextChoices):
    DNS = "dns", _("DNS TXT record")
    STAFF = "staff", _("Marked verified by vendor staff")


class AccountDomain(models.Model):
    """An email domain of an account; once verified, its people may be claimed.

    Any account may add a domain, but a domain is verified for at most one account
    (a database constraint): only then may a connection of that account link an
    existing host user whose email is on it.
    """

    account = models.ForeignKey(
        get_account_model_label(), on_delete=models.CASCADE, related_name="scim_domains"
    )
    #: Lower-case, IDNA-encoded (``xn--…``) domain name, without a trailing dot.
    domain = models.CharField(max_length=253)
    #: Published in DNS by the account's admin; not a secret.
    verification_token = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verification_method = models.CharField(
        max_length=10, choices=VerificationMethod.choices, blank=True, editable=False
    )
    last_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    #: Why the last DNS check failed, in words for the tenant admin ("" if it passed).
    last_check_error = models.CharField(max_length=500, blank=True, editable=False)

    class Meta:
        ordering = ("domain",)
        constraints = [
            models.UniqueConstraint(
                fields=["account", "domain"], name="scim_domain_account_unique"
            ),
            models.UniqueConstraint(
                fields=["domain"],
                condition=Q(verified_at__isnull=False),
                name="scim_domain_verified_once",
            ),
        ]

    def __str__(self) -> str:
        return self.domain

    @staticmethod
    def generate_token() -> str:
        return secrets.token_hex(16)

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def unicode_domain(self) -> str:
        """The domain as people write it: ``bücher.example`` for ``xn--bcher-kva.example``."""
        try:
            return str(idna.decode(self.domain))
        except (idna.IDNAError, UnicodeError):
            return self.domain

    @property
    def record_name(self) -> str:
        """The DNS name of the TXT record that proves ownership."""
        return f"{app_settings.DOMAIN_VERIFICATION_PREFIX}.{self.domain}"

    @property
    def record_value(self) -> str:
        """The text the TXT record must hold."""
        return f"scim-portal-verification={self.verification_token}"
