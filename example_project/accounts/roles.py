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


def role_groups(account: Account) -> dict[str, Group]:
    """The account's role groups: one query once they exist, made with their
    permissions (:func:`ensure_roles`) the first time."""
    names = {key: role_group_name(account, key) for key in ROLES}
    found = {group.name: group for group in Group.objects.filter(name__in=names.values())}
    if len(found) == len(names):
        return {key: found[name] for key, name in names.items()}
    return ensure_roles(account)


def set_membership(account: Account, user, role: str, *, active: bool = True) -> None:
    """Make ``user`` a member of ``account`` with ``role``; an inactive member holds no role.

    Four statements once the account's roles exist, whatever the member had before: the
    role groups, the membership as one upsert, the member's other role groups removed,
    the role group added. Inside the caller's transaction (a SCIM change's), or one of
    its own; no savepoint of its own, no read-then-write.
    """
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; choose one of: {', '.join(ROLES)}.")
    with transaction.atomic(savepoint=False):
        groups = role_groups(account)
        Membership.objects.bulk_create(
            [Membership(account=account, user=user, role=groups[role], is_active=active)],
            update_conflicts=True,
            unique_fields=["account", "user"],
            update_fields=["role", "is_active"],
        )
        through = user.groups.through
        held = groups[role].pk if active else None
        others = [group.pk for group in groups.values() if group.pk != held]
        through.objects.filter(user_id=user.pk, group_id__in=others).delete()
        if held is not None:
            through.objects.bulk_create(
                [through(user_id=user.pk, group_id=held)], ignore_conflicts=True
            )
