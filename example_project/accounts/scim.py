"""The example SaaS's side of SCIM provisioning: account memberships with roles."""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.db.models import F
from django.db.models.functions import Substr

from scim_portal.provisioning.adapter import AccountMemberships

from .models import Membership
from .roles import ROLES, role_key, set_membership

#: A provisioned user no role mapping gives a role to is a plain member.
FALLBACK_ROLE = "member"

logger = logging.getLogger(__name__)


class Memberships(AccountMemberships):
    def roles(self, account: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _perms) in ROLES.items()]

    def add(self, account: Any, user: Any, *, role: str, active: bool) -> None:
        set_membership(account, user, role or FALLBACK_ROLE, active=active)

    def set_active(self, account: Any, user: Any, active: bool) -> None:
        membership = (
            Membership.objects.filter(account=account, user=user).select_related("role").first()
        )
        if membership is not None:
            set_membership(account, user, role_key(membership) or FALLBACK_ROLE, active=active)

    def set_role(self, account: Any, user: Any, role: str) -> None:
        active = (
            Membership.objects.filter(account=account, user=user)
            .values_list("is_active", flat=True)
            .first()
        )
        set_membership(account, user, role or FALLBACK_ROLE, active=active is not False)

    def remove(self, account: Any, user: Any) -> None:
        for membership in Membership.objects.filter(account=account, user=user):
            if membership.role is not None:
                user.groups.remove(membership.role)
            membership.delete()

    def has_other_active_memberships(self, account: Any, user: Any) -> bool:
        return (
            Membership.objects.filter(user=user, is_active=True).exclude(account=account).exists()
        )

    def active_elsewhere(self, account: Any) -> Any:
        return Membership.objects.filter(is_active=True).exclude(account=account).values("user_id")

    def members(self, account: Any) -> Any:
        # The role is a Django group named "<account slug>:<role>": its name past the colon.
        prefix = len(account.slug) + 2
        return Membership.objects.filter(account=account).values(
            host_user=F("user_id"),
            host_role=Substr("role__name", prefix),
            host_active=F("is_active"),
        )

    def stored_role(self, role: str) -> str:
        return role or FALLBACK_ROLE

    def find_user_by_email(self, email: str, account: Any) -> Any | None:
        """Who owns ``email``. A host with django-allauth trusts only a verified address;
        the connection still claims that person only under the ownership rules (their
        domain verified for ``account``, managed by no other connection, not staff)."""
        if apps.is_installed("allauth.account"):
            from allauth.account.models import EmailAddress

            found = list(
                EmailAddress.objects.filter(email__iexact=email, verified=True).select_related(
                    "user"
                )[:2]
            )
            return found[0].user if len(found) == 1 else None
        return super().find_user_by_email(email, account)

    def invite(self, account: Any, user: Any, directory_user: Any) -> None:
        """A real host would email ``user`` here; they see the invitation on /invitations/."""
        logger.info("Invited %s to join %s (SCIM user %s)", user, account, directory_user.pk)
