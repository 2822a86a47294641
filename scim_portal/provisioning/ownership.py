"""Who a connection may touch in the host application (docs/security.md, "Ownership").

A host user is *managed* by at most one connection: the one that created it, or the
one that claimed it (an existing user whose email is on a domain verified for the
connection's account, managed by no connection, not staff). A connection changes a
host user's profile (email, names, ``is_active``: the user row) only when it manages
that user; for a person it merely links (they accepted an invitation) it changes
only their membership and role in its own account. Staff and superusers are never
linked, claimed, edited or deactivated (``SCIM_PORTAL["PROVISION_STAFF"]`` lets
connections manage staff, never superusers).

These rules hold whatever the host's memberships hook answers: the hook says who
owns an email; this module decides what the connection may do with that person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction

from ..conf import app_settings
from ..models import DirectoryUser, EventType, HostLink, LinkPolicy
from .domains import owner_of_email
from .events import SYSTEM, Actor, recording
from .exceptions import ProvisioningError

if TYPE_CHECKING:
    from .adapter import AccountMemberships


def is_protected(host_user: Any) -> bool:
    """Whether no connection may link, claim, edit or deactivate ``host_user``."""
    if getattr(host_user, "is_superuser", False):
        return True
    return bool(getattr(host_user, "is_staff", False)) and not app_settings.PROVISION_STAFF


def manages(directory_user: DirectoryUser) -> bool:
    """Whether ``directory_user``'s connection may change its host user's profile."""
    host = directory_user.host_user
    return (
        host is not None and directory_user.host_link == HostLink.MANAGED and not is_protected(host)
    )


def has_membership(directory_user: DirectoryUser) -> bool:
    """Whether the connection keeps the host user's membership of its account."""
    return directory_user.host_user is not None and directory_user.host_link in {
        HostLink.MANAGED,
        HostLink.MEMBER,
    }


def users_with_email(email: str, limit: int = 2) -> list[Any]:
    """Host users whose email field is ``email`` (case-insensitively), at most ``limit``."""
    model = get_user_model()
    field = model.get_email_field_name()
    return list(model._default_manager.filter(**{f"{field}__iexact": email})[:limit])


def email_taken(email: str, *, by_other_than: Any = None) -> bool:
    """Whether a host user (other than ``by_other_than``) has ``email``."""
    model = get_user_model()
    field = model.get_email_field_name()
    others = model._default_manager.filter(**{f"{field}__iexact": email})
    if by_other_than is not None:
        others = others.exclude(pk=by_other_than.pk)
    return others.exists()


@dataclass(frozen=True)
class Link:
    """What becomes of a new directory user in the host: ``link`` with ``host_user``
    (None for :attr:`HostLink.MANAGED`: create one), or ``awaited`` for AWAITING."""

    link: HostLink
    host_user: Any = None
    awaited: Any = None


def decide(directory_user: DirectoryUser, memberships: AccountMemberships) -> Link:
    """How a directory user joins the host (nothing is written here).

    - no email, or an email no host user has: a new host user, managed;
    - the owner the hook names, on a domain verified for the account, managed by no
      connection, under the ``verified_email`` policy: claimed, managed;
    - an owner a sibling connection of the same account manages: linked as a member;
    - an owner the hook names otherwise: awaited (invited), unless they are staff, a
      superuser, already linked in this connection, or managed by another account's
      connection while the email is on this account's own verified domain: blocked;
    - an email the hook names no owner for, but host users hold: blocked (an
      unconfirmed holder is never invited, and no duplicate is created).
    """
    connection = directory_user.connection
    if connection.link_policy == LinkPolicy.NEVER:
        return Link(HostLink.NONE)
    email = directory_user.email
    if not email:
        return Link(HostLink.MANAGED)
    if uses_default_lookup(memberships):
        holders = users_with_email(email)  # the default hook's own query, asked once
        found, taken = (holders[0] if len(holders) == 1 else None), bool(holders)
    else:
        found = memberships.find_user_by_email(email, connection.account)
        taken = found is not None or email_taken(email)
    if found is None:
        return Link(HostLink.BLOCKED if taken else HostLink.MANAGED)
    if is_protected(found) or _linked_in(directory_user, found):
        return Link(HostLink.BLOCKED)
    manager = (
        DirectoryUser.objects.filter(host_user=found, host_link=HostLink.MANAGED)
        .exclude(pk=directory_user.pk)
        .select_related("connection")
        .first()
    )
    ours = owner_of_email(directory_user) == connection.account_id
    if manager is None:
        if ours and connection.link_policy == LinkPolicy.VERIFIED_EMAIL:
            return Link(HostLink.MANAGED, host_user=found)
    elif manager.connection.account_id == connection.account_id:
        return Link(HostLink.MEMBER, host_user=found)
    elif ours:
        return Link(HostLink.BLOCKED)
    return Link(HostLink.AWAITING, awaited=found)


def uses_default_lookup(memberships: AccountMemberships) -> bool:
    """Whether the hook finds people by email the default way (overriding neither
    ``find_user_by_email`` nor the deprecated ``find_user_by_verified_email``)."""
    from .adapter import AccountMemberships

    kind = type(memberships)
    return (
        kind.find_user_by_email is AccountMemberships.find_user_by_email
        and kind.find_user_by_verified_email is AccountMemberships.find_user_by_verified_email
    )


def _linked_in(directory_user: DirectoryUser, host_user: Any) -> bool:
    return (
        DirectoryUser.objects.filter(
            connection_id=directory_user.connection_id, host_user=host_user
        )
        .exclude(pk=directory_user.pk)
        .exists()
    )


class CannotLink(ProvisioningError):
    """The person may not be linked to this directory user (see the message)."""


@transaction.atomic
def accept_invitation(
    directory_user: DirectoryUser, host_user: Any, *, actor: Actor = SYSTEM
) -> DirectoryUser:
    """Link ``host_user`` to ``directory_user``, which was awaiting them: the person
    accepted the account's invitation. From now on the connection keeps their
    membership and role in its account, never their profile.

    Call it from the host's own "accept invitation" view, with the signed-in user.
    Raises :class:`CannotLink` if the directory user does not await this person.
    """
    from .adapter import get_memberships

    locked = (
        DirectoryUser.objects.select_for_update()
        .select_related("connection")
        .get(pk=directory_user.pk)
    )
    if locked.host_link != HostLink.AWAITING or locked.awaited_user_id != host_user.pk:
        raise CannotLink("This invitation is not for this person, or was already answered.")
    email = getattr(host_user, host_user.get_email_field_name(), "") or ""
    if email.lower() != locked.email.lower():
        raise CannotLink("The identity provider has changed this person's email since.")
    if is_protected(host_user):
        raise CannotLink("Staff and superuser accounts are never linked to a directory.")
    if _linked_in(locked, host_user):
        raise CannotLink("This person is already linked to another user of the connection.")
    locked.host_user, locked.host_link, locked.awaited_user = host_user, HostLink.MEMBER, None
    locked.save(update_fields=["host_user", "host_link", "awaited_user"])
    memberships = get_memberships()
    if memberships is not None:
        memberships.add(
            locked.connection.account,
            host_user,
            role=locked.role,
            active=locked.active is not False,
        )
    with recording(locked.connection, actor) as events:
        events.add(
            EventType.USER_LINKED,
            "User",
            locked.pk,
            {"userName": locked.user_name, "host_user": host_user.pk, "how": "accepted"},
        )
    directory_user.host_user, directory_user.host_link = host_user, HostLink.MEMBER
    directory_user.awaited_user = None
    return locked


#: Seconds before the same person is invited to the same account again.
INVITE_INTERVAL = 24 * 60 * 60


def should_invite(account: Any, host_user: Any) -> bool:
    """Whether to invite ``host_user`` to ``account`` now: once a day at most, so an IdP
    that creates and deletes the same user in a loop cannot flood someone's inbox."""
    key = f"scim_portal:invited:{account.pk}:{host_user.pk}"
    try:
        return bool(cache.add(key, 1, INVITE_INTERVAL))
    except Exception:  # an unreachable cache must not block provisioning
        return True


def invitations_for(host_user: Any) -> Any:
    """The directory users awaiting ``host_user`` (for the host's invitations page)."""
    return DirectoryUser.objects.filter(
        host_link=HostLink.AWAITING, awaited_user=host_user
    ).select_related("connection")
