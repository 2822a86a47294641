"""What removing directory users would change in the host, counted before anything
happens: the dry runs of approving held removals (:func:`.safety.preview_approval`)
and of deleting a connection (:func:`.connections.deletion_preview`).

The counts follow the default adapter's rules (``user_deactivated`` and
``user_deleted``) and are set-based: a fixed handful of statements whatever the
number of people, reading the host's memberships through the memberships hook's
:meth:`~.adapter.AccountMemberships.members` and
:meth:`~.adapter.AccountMemberships.active_elsewhere` when it has them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Count, Q, QuerySet

from ..conf import app_settings
from ..models import Connection, DeprovisionPolicy, HostLink, RemovalKind

#: Directory users (or kept copies) whose host membership the connection keeps.
LINKED = Q(host_user__isnull=False, host_link__in=[HostLink.MANAGED, HostLink.MEMBER])


@dataclass(frozen=True)
class Effects:
    """What deciding removals changes (or, for a preview, would change) in the host."""

    removals: int = 0
    deactivations: int = 0
    deletions: int = 0
    #: Account memberships deactivated, and removed (the deprovision policy "remove").
    memberships_deactivated: int = 0
    memberships_removed: int = 0
    #: Host users the connection manages that lose their last active membership.
    host_users_deactivated: int = 0
    #: Removals of people linked to no host user: nothing changes in the host.
    unlinked: int = 0

    def as_json(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class HostEffects:
    """The host side of :class:`Effects`: what removing some people changes."""

    linked: int = 0
    memberships_deactivated: int = 0
    memberships_removed: int = 0
    host_users_deactivated: int = 0

    def __add__(self, other: HostEffects) -> HostEffects:
        theirs = asdict(other)
        return HostEffects(**{name: count + theirs[name] for name, count in asdict(self).items()})


def host_effects(connection: Connection, rows: QuerySet[Any]) -> HostEffects:
    """What removing the people of ``rows`` would change in the host: ``rows`` are
    directory users or kept copies of deleted ones (they have ``host_user`` and
    ``host_link``) of ``connection``, annotated with ``removal_kind`` (a
    :class:`~scim_portal.models.RemovalKind`). Nothing is written.

    Memberships are counted only where they change (an inactive one is not
    deactivated again) when the hook's ``members()`` can tell; a host user is counted
    when the connection manages it, it is active, not protected, and — as far as the
    hook's ``active_elsewhere()`` (else ``has_other_active_memberships``, per person)
    can tell — it is an active member of no other account.
    """
    from .adapter import get_memberships

    hook = get_memberships()
    account = connection.account
    counts: dict[str, int] = {"linked": rows.filter(LINKED).count()}
    if hook is not None:
        removes = (
            Q(removal_kind=RemovalKind.DELETE)
            if connection.deprovision_policy == DeprovisionPolicy.REMOVE
            else None
        )
        deactivates = LINKED & ~removes if removes is not None else LINKED
        members = hook.members(account)
        if members is not None:
            active = members.filter(host_active=True).values("host_user")
            counts["memberships_deactivated"] = _people(
                rows.filter(deactivates, host_user__in=active)
            )
            if removes is not None:
                counts["memberships_removed"] = _people(
                    rows.filter(LINKED & removes, host_user__in=members.values("host_user"))
                )
        else:
            counts["memberships_deactivated"] = _people(rows.filter(deactivates))
            if removes is not None:
                counts["memberships_removed"] = _people(rows.filter(LINKED & removes))
    candidates = rows.filter(_deactivatable())
    deactivated = _people(candidates)
    if hook is not None and deactivated:
        elsewhere = hook.active_elsewhere(account)
        if elsewhere is not None:
            deactivated -= _people(candidates.filter(host_user__in=elsewhere))
        else:
            hosts = get_user_model()._default_manager.filter(pk__in=candidates.values("host_user"))
            deactivated -= sum(
                1 for host in hosts.iterator() if hook.has_other_active_memberships(account, host)
            )
    counts["host_users_deactivated"] = deactivated
    return HostEffects(**counts)


def _people(rows: QuerySet[Any]) -> int:
    """The number of distinct host users of ``rows``."""
    return int(rows.aggregate(n=Count("host_user", distinct=True))["n"])


def _deactivatable() -> Q:
    """Rows whose host user the connection would deactivate when it loses its last
    active membership: managed, active, and neither superuser nor (unless connections
    may provision staff) staff (:func:`.ownership.is_protected`)."""
    condition = Q(host_link=HostLink.MANAGED, host_user__isnull=False, host_user__is_active=True)
    model = get_user_model()
    protected = [] if app_settings.PROVISION_STAFF else ["is_staff"]
    for field in ["is_superuser", *protected]:
        try:
            model._meta.get_field(field)
        except FieldDoesNotExist:
            continue
        condition &= ~Q(**{f"host_user__{field}": True})
    return condition
