"""The example SaaS's side of SCIM provisioning: account memberships with roles."""

from __future__ import annotations

from typing import Any

from scim_portal.provisioning.adapter import AccountMemberships

from .models import Membership
from .roles import ROLES, set_membership

#: A provisioned user no role mapping gives a role to is a plain member.
FALLBACK_ROLE = "member"


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
