"""Fixing rows of the drift report (:mod:`.drift`), one row per call.

Each action runs in one transaction, touches only the person of its row, refuses a
row of another connection or account as not found (:class:`ResourceNotFound`, a 404
to the faces), refuses what the ownership rules forbid with :class:`CannotFix` (the
message says why), and records an event with the actor:

- :func:`reapply` — a ``membership`` or ``role`` row: the host membership is made what
  the directory says (``drift.fixed``, action ``reapply``);
- :func:`deactivate_member` — an ``unmanaged`` row: the person's membership of the
  account is deactivated (``drift.fixed``, action ``deactivate``);
- :func:`adopt` — an ``unmanaged`` row on a verified domain: a directory user is made
  for the person and linked to them (``user.adopted``); the identity provider finds it
  by ``userName`` on its next sync;
- :func:`approve_rejected` — a ``rejected`` row: the admin changes their mind, and the
  removal they rejected is applied now (``user.removal_approved`` and ``drift.fixed``,
  action ``approve``). A ``rejected`` row is not re-applied: applying the directory's
  decision is exactly what approving does, so the row offers that instead.

Held removals are decided on the brake's review page (:func:`.safety.approve`,
:func:`.safety.reject`), not here.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_noop

from .._sentences import Sentence
from ..models import (
    Connection,
    DirectoryUser,
    DirectoryUserValue,
    EventType,
    HostLink,
    LinkPolicy,
    Removal,
    RemovalState,
)
from ..models.folding import fold
from . import safety
from .adapter import AccountMemberships, get_memberships
from .documents import locked, save_unique, user_columns, value_rows
from .domains import verified_owner
from .drift import LINKED, UNMANAGED, Drift
from .events import SYSTEM, Actor, recording
from .exceptions import HostProvisioningFailed, ProvisioningError, ResourceNotFound
from .ownership import has_membership, is_protected, manages

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


class CannotFix(ProvisioningError):
    """This row cannot be fixed this way; the message says why, in words for the admin."""


# Why a row cannot be fixed.
NO_MEMBERS = Sentence(
    gettext_noop(
        "The application does not say who is a member of the account (its memberships hook "
        "has no members()): nothing can be fixed here."
    )
)
REMOVAL_HELD = Sentence(
    gettext_noop("The removal of %(user)s waits for review: approve or reject it there.")
)
REMOVAL_REJECTED = Sentence(
    gettext_noop(
        "An admin rejected the removal of %(user)s: approve it now to apply the directory's "
        "decision."
    )
)
NOT_LINKED = Sentence(gettext_noop("%(user)s is not linked to anyone in the application."))
LINKED_ELSEWHERE = Sentence(
    gettext_noop(
        "%(member)s is linked to %(user)s of “%(connection)s”: the directory keeps their "
        "membership."
    )
)
DELETION_WAITS = Sentence(
    gettext_noop(
        "The deletion of %(member)s from the directory waits for review or was rejected: "
        "decide it there."
    )
)
YOURSELF = Sentence(
    gettext_noop("You cannot deactivate your own membership here: ask another administrator.")
)
PROTECTED = Sentence(
    gettext_noop(
        "%(member)s is vendor staff or a superuser: no connection may change their access."
    )
)
NEVER_LINKED = Sentence(
    gettext_noop("%(member)s is vendor staff or a superuser: they are never linked.")
)
LINKS_NOBODY = Sentence(gettext_noop("“%(connection)s” does not link users to the application."))
NO_EMAIL = Sentence(
    gettext_noop("%(member)s's email (none) is not on a domain verified for this account.")
)
EMAIL_ELSEWHERE = Sentence(
    gettext_noop("%(member)s's email (%(email)s) is not on a domain verified for this account.")
)
NAME_TAKEN = Sentence(gettext_noop("“%(connection)s” already has a user named %(email)s."))
AWAITED = Sentence(
    gettext_noop(
        "A user of “%(connection)s” already awaits %(member)s: they link by accepting the "
        "invitation."
    )
)


def _hook(connection: Connection) -> tuple[AccountMemberships, Any]:
    """The memberships hook, and the account's memberships as it reads them."""
    hook = get_memberships()
    members = hook.members(connection.account) if hook is not None else None
    if hook is None or members is None:
        raise CannotFix(NO_MEMBERS.english())
    return hook, members


def _call(name: str, method: Any, *args: Any, **kwargs: Any) -> None:
    """Call the host's hook; a failure rolls the fix back, as a directory change's would."""
    try:
        method(*args, **kwargs)
    except Exception as exc:
        raise HostProvisioningFailed(name) from exc


def _waiting_state(connection: Connection, user_id: Any) -> str | None:
    """HELD or REJECTED when the person's latest removal waits or was rejected."""
    latest = (
        Removal.objects.filter(connection=connection, user_id=user_id)
        .order_by("-pk")
        .values_list("state", flat=True)
        .first()
    )
    return latest if latest in (RemovalState.HELD, RemovalState.REJECTED) else None


@transaction.atomic
def reapply(
    connection: Connection, directory_user_id: Any, *, actor: Actor = SYSTEM
) -> DirectoryUser:
    """Make the host membership of a linked directory user what the directory says:
    ``add(account, host user, role=its role, active=not deactivated)`` through the
    memberships hook; a host user the connection manages follows too (reactivated when
    the directory says active, deactivated when it says not and they are an active
    member of no other account), as the adapter does on (re)activation."""
    hook, _members = _hook(connection)
    user = locked(DirectoryUser, connection, directory_user_id)
    state = _waiting_state(connection, user.pk)
    if state == RemovalState.HELD:
        raise CannotFix(REMOVAL_HELD.english(user=user.user_name))
    if state == RemovalState.REJECTED:
        raise CannotFix(REMOVAL_REJECTED.english(user=user.user_name))
    if not has_membership(user):
        raise CannotFix(NOT_LINKED.english(user=user.user_name))
    account, host = connection.account, user.host_user
    active = user.active is not False
    _call("memberships.add", hook.add, account, host, role=user.role, active=active)
    changes_host = manages(user) and host.is_active != active
    if changes_host and (active or not _active_elsewhere(hook, account, host)):
        host.is_active = active
        host.save(update_fields=["is_active"])
    with recording(connection, actor) as events:
        changes = {
            "action": "reapply",
            "userName": user.user_name,
            "host_user": host.pk,
            "role": user.role,
            "active": active,
        }
        events.add(EventType.DRIFT_FIXED, "User", user.pk, changes)
    return user


def _active_elsewhere(hook: AccountMemberships, account: Any, host: Any) -> bool:
    try:
        return bool(hook.has_other_active_memberships(account, host))
    except NotImplementedError:
        return True  # cannot tell: leave the person's account alone


def _unmanaged_member(connection: Connection, host_user_id: Any) -> Any:
    """The host user of an ``unmanaged`` row, its row locked: an active member of the
    connection's account whom no directory user of the account is linked to."""
    members = _hook(connection)[1]
    model = get_user_model()
    try:
        host = model._default_manager.select_for_update().get(pk=host_user_id)
    except (model.DoesNotExist, ValidationError, ValueError, TypeError):
        raise ResourceNotFound("No such member of this account.") from None
    if not members.filter(host_user=host.pk, host_active=True).exists():
        raise ResourceNotFound("No such active member of this account.")
    linked = (
        DirectoryUser.objects.filter(
            connection__account_id=connection.account_id, host_user=host, host_link__in=LINKED
        )
        .select_related("connection")
        .first()
    )
    if linked is not None:
        raise CannotFix(
            LINKED_ELSEWHERE.english(
                member=host.get_username(),
                user=linked.user_name,
                connection=linked.connection.name,
            )
        )
    if not Drift(connection).queryset(UNMANAGED).filter(pk=host.pk).exists():
        raise CannotFix(DELETION_WAITS.english(member=host.get_username()))
    return host


@transaction.atomic
def deactivate_member(connection: Connection, host_user_id: Any, *, actor: Actor = SYSTEM) -> Any:
    """Deactivate the membership of an unmanaged member of the account (someone no
    directory user stands for, who kept access). Their user account itself is left
    alone: no connection manages it. Staff and superusers are refused, and so is the
    person acting (tenant admins are often not in their IdP: one click would lock them out)."""
    host = _unmanaged_member(connection, host_user_id)
    if actor.kind == "user" and getattr(actor.user, "pk", None) == host.pk:
        raise CannotFix(YOURSELF.english())
    if is_protected(host):
        raise CannotFix(PROTECTED.english(member=host.get_username()))
    hook, _members = _hook(connection)
    _call("memberships.set_active", hook.set_active, connection.account, host, False)
    with recording(connection, actor) as events:
        changes = {"action": "deactivate", "host_user": host.pk, "name": host.get_username()}
        events.add(EventType.DRIFT_FIXED, "HostUser", host.pk, changes)
    return host


@transaction.atomic
def adopt(connection: Connection, host_user_id: Any, *, actor: Actor = SYSTEM) -> DirectoryUser:
    """Give an unmanaged member whose email is on a domain verified for the account a
    directory user in ``connection``, linked to them: ``userName`` and the primary email
    are their email, the name theirs, active. The connection manages them as the
    ``verified_email`` link policy claims people, unless another connection already does
    or the policy is ``always_create`` ("never claim an existing one"): then it keeps
    their membership only. Their membership and
    role in the host are left as they are; the directory's role is the connection's
    default until the IdP's groups say otherwise (a ``role`` row shows a difference).

    Not :func:`.users.create_user`: that runs the adapter, which decides the link by the
    link policy and the email's owner (it may link nobody, or make a new host user) and
    rewrites the membership with the directory's role; adopting links this person and
    changes nothing in the host."""
    host = _unmanaged_member(connection, host_user_id)
    name = host.get_username()
    if is_protected(host):
        raise CannotFix(NEVER_LINKED.english(member=name))
    if connection.link_policy == LinkPolicy.NEVER:
        raise CannotFix(LINKS_NOBODY.english(connection=connection.name))
    email = str(getattr(host, host.get_email_field_name(), "") or "")
    if not email or verified_owner(email) != connection.account_id:
        refused = EMAIL_ELSEWHERE.english(member=name, email=email) if email else None
        raise CannotFix(refused or NO_EMAIL.english(member=name))
    if DirectoryUser.objects.filter(connection=connection, user_name_key=fold(email)).exists():
        raise CannotFix(NAME_TAKEN.english(connection=connection.name, email=email))
    if DirectoryUser.objects.filter(connection=connection, awaited_user=host).exists():
        raise CannotFix(AWAITED.english(connection=connection.name, member=name))
    # Claimed (managed) as the IdP would claim them: under the verified-email policy, when
    # no connection manages them yet. Otherwise only their membership is linked.
    member_only = (
        connection.link_policy != LinkPolicy.VERIFIED_EMAIL
        or DirectoryUser.objects.filter(host_user=host, host_link=HostLink.MANAGED).exists()
    )
    document: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "userName": email,
        "emails": [{"value": email, "primary": True}],
        "active": True,
    }
    names = {
        "givenName": getattr(host, "first_name", "") or "",
        "familyName": getattr(host, "last_name", "") or "",
    }
    if any(names.values()):
        document["name"] = {key: value for key, value in names.items() if value}
        document["displayName"] = " ".join(value for value in names.values() if value)
    user = DirectoryUser(
        connection=connection,
        attributes=document,
        role=connection.default_role,
        host_user=host,
        host_link=HostLink.MEMBER if member_only else HostLink.MANAGED,
        **user_columns(document),
    )
    with recording(connection, actor) as events:
        save_unique(user, "userName", user.user_name, force_insert=True)
        DirectoryUserValue.objects.bulk_create(value_rows(user))
        changes = {
            "userName": user.user_name,
            "host_user": host.pk,
            "host_link": user.host_link,
            "role": user.role,
        }
        events.add(EventType.USER_ADOPTED, "User", user.pk, changes)
    return user


@transaction.atomic
def approve_rejected(connection: Connection, removal_id: Any, *, actor: Actor = SYSTEM) -> Removal:
    """Apply now a removal an admin rejected (a ``rejected`` row): its host effects
    happen and it is marked approved (:func:`.safety.apply_rejected`)."""
    try:
        removal = Drift(connection).queryset("rejected").filter(pk=removal_id).first()
    except (ValidationError, ValueError, TypeError):
        removal = None
    if removal is None:
        raise ResourceNotFound("No rejected removal with this id in this connection.")
    safety.apply_rejected(connection, [removal.pk], actor=actor)
    with recording(connection, actor) as events:
        changes = {"action": "approve", "userName": removal.user_name}
        events.add(EventType.DRIFT_FIXED, "User", removal.user_id, changes)
    removal.refresh_from_db()
    return removal
