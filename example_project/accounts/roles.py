"""Roles of the example SaaS: one Django group per account and role, holding
django-guardian permissions on that account object."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction
from guardian.shortcuts import assign_perm

from scim_portal import permissions

from .models import Account, Membership

#: role key -> (label, provisioning permissions on the account)
ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("Admin", (permissions.READ, permissions.CREATE, permissions.DELETE)),
    "auditor": ("Auditor", (permissions.READ,)),
    "member": ("Member", ()),
}


def role_group_name(account: Account, role: str) -> str:
    return f"{account.slug}:{role}"


@transaction.atomic
def ensure_roles(account: Account) -> dict[str, Group]:
    """Create the account's role groups and grant their permissions (idempotent)."""
    groups = {}
    for key, (_label, perms) in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role_group_name(account, key))
        for codename in perms:
            assign_perm(permissions.perm_name(codename), group, account)
        groups[key] = group
    return groups


def role_key(membership: Membership) -> str | None:
    if membership.role is None:
        return None
    return membership.role.name.split(":", 1)[-1]


@transaction.atomic
def set_membership(account: Account, user, role: str, *, active: bool = True) -> Membership:
    """Make ``user`` a member of ``account`` with ``role``; an inactive member holds no role."""
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; choose one of: {', '.join(ROLES)}.")
    groups = ensure_roles(account)
    membership, _ = Membership.objects.update_or_create(
        account=account, user=user, defaults={"role": groups[role], "is_active": active}
    )
    user.groups.remove(*groups.values())
    if active:
        user.groups.add(groups[role])
    return membership
