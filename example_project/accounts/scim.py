"""The example SaaS's side of SCIM provisioning: account memberships with roles."""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps

from scim_portal.provisioning.adapter import AccountMemberships

from .models import Membership
from .roles import ROLES, set_membership

#: A provisioned user no role mapping gives a role to is a plain member.
FALLBACK_ROLE = "member"

logger = logging.getLogger(__name__)


class Memberships(AccountMemberships):
    def roles(self, account: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _perms) in ROLES.items()]

    def add(self, account: Any, user: Any, *, role: str, active: bool) -> None:
        set_membership(account, user, role or FALLBACK_ROLE, active=active)

    def set_active(self, account: Any, user: Any, active: bool) -> None:
        membership = Membership.objects.filter(account=account, user=user).first()
        if membership is not None:
            role = membership.role.name.split(":", 1)[-1] if membership.role else FALLBACK_ROLE
            set_membership(account, user, role, active=active)

    def set_role(self, account: Any, user: Any, role: str) -> None:
        membership = Membership.objects.filter(account=account, user=user).first()
        active = membership.is_active if membership is not None else True
        set_membership(account, user, role or FALLBACK_ROLE, active=active)

    def remove(self, account: Any, user: Any) -> None:
        for membership in Membership.objects.filter(account=account, user=user):
            if membership.role is not None:
                user.groups.remove(membership.role)
            membership.delete()

    def has_other_active_memberships(self, account: Any, user: Any) -> bool:
        return (
            Membership.objects.filter(user=user, is_active=True).exclude(account=account).exists()
        )

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
