"""Writing directory users: create, update, delete, and linking those who wait."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from .._sentences import Sentence
from ..conf import app_settings
from ..models import (
    Connection,
    DirectoryUser,
    DirectoryUserValue,
    EmailDomainPolicy,
    EventType,
    HostLink,
    RemovalKind,
)
from ..models.folding import fold
from .documents import (
    Document,
    call_adapter,
    check_version,
    is_active,
    locked,
    multi_valued_part,
    save_unique,
    user_columns,
    value_rows,
)
from .domains import domain_of, owner_of_email
from .events import SYSTEM, Actor, EventRecorder, diff, recording
from .exceptions import (
    EmailOutsideDomains,
    HostProvisioningFailed,
    UniquenessConflict,
)
from .safety import keep_deleted, reactivated, remove

#: The warning on a user whose email is outside the account's verified domains.
OUTSIDE_DOMAINS = Sentence(
    gettext_noop("The email %(email)s is outside the account's verified domains.")
)


def check_email_domain(connection: Connection, user: DirectoryUser) -> str:
    """Apply the connection's policy for emails outside the account's verified domains:
    "" if the user's email is fine, a warning to flag, or :class:`EmailOutsideDomains`."""
    policy, email = connection.out_of_domain_policy, user.email
    if not email or policy == EmailDomainPolicy.ACCEPT:
        return ""
    if owner_of_email(user) == connection.account_id:
        return ""
    if policy == EmailDomainPolicy.REJECT:
        raise EmailOutsideDomains(domain_of(email) or email)
    return OUTSIDE_DOMAINS.english(email=email)


def create_user(
    connection: Connection, document: Document, *, actor: Actor = SYSTEM
) -> DirectoryUser:
    """Create a user; :class:`UniquenessConflict` if the userName is taken,
    :class:`EmailOutsideDomains` if the connection rejects its email. ``user.warning``
    says what was accepted but flagged."""
    try:
        return _create_user(connection, document, actor)
    except HostProvisioningFailed:
        # The adapter may make the host user before the directory row (user_creating).
        # When a simultaneous create of the same userName commits first, this one's host
        # user then fails on the winner's (its username) before the row's own unique
        # key could answer: the change is rolled back, and the IdP gets the 409 it would
        # have got a moment later.
        user_name = user_columns(document)["user_name"]
        taken = DirectoryUser.objects.filter(connection=connection, user_name_key=fold(user_name))
        if taken.exists():
            raise UniquenessConflict("userName", user_name) from None
        raise


@transaction.atomic
def _create_user(connection: Connection, document: Document, actor: Actor) -> DirectoryUser:
    with recording(connection, actor) as events:
        user = DirectoryUser(
            connection=connection,
            attributes=document,
            role=connection.default_role,
            **user_columns(document),
        )
        user.warning = check_email_domain(connection, user)
        call_adapter("user_creating", user)
        save_unique(user, "userName", user.user_name, force_insert=True)
        DirectoryUserValue.objects.bulk_create(value_rows(user))
        call_adapter("user_created", user)
        summary = {"userName": user.user_name, "externalId": user.external_id}
        events.add(
            EventType.USER_CREATED,
            "User",
            user.id,
            {**summary, "role": user.role, "host_link": HostLink.public(user.host_link)},
        )
        _record_claim(user, events)
    return user


def _record_claim(user: DirectoryUser, events: EventRecorder) -> None:
    """A ``user.linked`` event when the adapter linked an existing host user."""
    if user.claimed and user.host_user_id is not None:
        how = "claimed" if user.host_link == HostLink.MANAGED else "linked"
        changes = {"userName": user.user_name, "host_user": user.host_user_id, "how": how}
        events.add(EventType.USER_LINKED, "User", user.id, changes)


@transaction.atomic
def update_user(
    connection: Connection,
    user_id: Any,
    build: Callable[[DirectoryUser], Document],
    *,
    if_match: str | None = None,
    actor: Actor = SYSTEM,
) -> tuple[DirectoryUser, bool]:
    """Replace a user's document with ``build(locked user)``.

    ``build`` sees the row locked, so a PATCH computed from the current document
    cannot lose a concurrent write. Returns the user and whether it changed; an
    unchanged document keeps its version.
    """
    user = locked(DirectoryUser, connection, user_id)
    check_version(user, if_match)
    document = build(user)
    if document == user.attributes:
        return user, False
    with recording(connection, actor) as events:
        old_document, was_active = user.attributes, is_active(user.active)
        values_changed = multi_valued_part(document) != multi_valued_part(old_document)
        old_user_name, old_email = user.user_name, user.email
        for field, value in user_columns(document).items():
            setattr(user, field, value)
        if user.email.lower() != old_email.lower():
            user.warning = check_email_domain(connection, user)
        user.attributes = document
        user.version += 1
        user.last_modified = timezone.now()
        if fold(user.user_name) != fold(old_user_name):
            save_unique(user, "userName", user.user_name)
        else:
            user.save()
        if values_changed:
            DirectoryUserValue.objects.filter(user=user).delete()
            DirectoryUserValue.objects.bulk_create(value_rows(user))
        changes = diff(old_document, document)
        changes.pop("active", None)
        if changes:
            call_adapter("user_updated", user, changes)
            events.add(EventType.USER_UPDATED, "User", user.id, changes)
            _record_claim(user, events)
        if was_active and not is_active(user.active):
            removed = {"userName": user.user_name}
            events.add(EventType.USER_DEACTIVATED, "User", user.id, removed)
            if not remove(user, RemovalKind.DEACTIVATE, events):
                removed["held"] = True  # the brake holds its host effects
        elif not was_active and is_active(user.active):
            call_adapter("user_reactivated", user)
            reactivated(user, events)
            events.add(EventType.USER_REACTIVATED, "User", user.id, {"userName": user.user_name})
    return user, True


@transaction.atomic
def delete_user(
    connection: Connection, user_id: Any, *, if_match: str | None = None, actor: Actor = SYSTEM
) -> None:
    """Delete a user with its memberships; a copy stays restorable for the grace period
    (:func:`.safety.restore`), and the host effects may be held by the brake."""
    user = locked(DirectoryUser, connection, user_id)
    check_version(user, if_match)
    with recording(connection, actor) as events:
        removed = {"userName": user.user_name}
        events.add(EventType.USER_DELETED, "User", user.id, removed)
        applied = remove(user, RemovalKind.DELETE, events)
        if not applied:
            removed["held"] = True  # the brake holds its host effects
        # A held deletion keeps its copy whatever the window: approving it needs one.
        if not applied or app_settings.RESTORE_WINDOW_DAYS > 0:
            keep_deleted(user)
        user.delete()


def link_pending_users(account: Any, domain: str, *, actor: Actor = SYSTEM) -> int:
    """Give every directory user of ``account`` whose email is on ``domain`` (just
    verified) and who is not linked yet another chance to be linked, each in its own
    transaction; the number now linked."""
    pending = DirectoryUser.objects.filter(
        connection__account=account, host_link__in=[HostLink.AWAITING, HostLink.BLOCKED]
    ).values_list("pk", "email")
    linked = 0
    for pk, email in pending.iterator():
        if domain_of(email) == domain:
            linked += _link_pending(pk, actor)
    return linked


@transaction.atomic
def _link_pending(pk: Any, actor: Actor) -> int:
    user = DirectoryUser.objects.select_for_update().select_related("connection").get(pk=pk)
    with recording(user.connection, actor) as events:
        call_adapter("link_pending", user)
        _record_claim(user, events)
    return int(user.host_link in {HostLink.MANAGED, HostLink.MEMBER})
