"""Safe deprovisioning: the brake on mass removals, deciding what it held, and
restoring deleted users (docs/provisioning.md, "Safe deprovisioning").

The directory always records what the identity provider said (a deactivated user is
inactive, a deleted one answers 404), so the IdP never retries. What the brake holds
is the *host effects*: the adapter's ``user_deactivated`` and ``user_deleted``, and
role and group changes of the people whose removal waits. A tenant admin approves
them (the effects happen then) or rejects them (the people stay active in the host,
diverging from the directory, and the drift report shows them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext_noop

from .._cache import guarded
from .._sentences import Sentence
from ..conf import app_settings
from ..models import (
    Connection,
    DeletedUser,
    DirectoryGroup,
    DirectoryUser,
    DirectoryUserValue,
    EventType,
    GroupMembership,
    HostLink,
    Removal,
    RemovalKind,
    RemovalState,
)
from ..models.folding import fold
from .documents import call_adapter, is_active, save_unique, value_rows
from .effects import Effects, host_effects
from .events import SYSTEM, Actor, EventRecorder, recording
from .exceptions import ProvisioningError, ResourceNotFound, UniquenessConflict
from .ownership import is_protected

#: The brake's rolling window.
WINDOW = timedelta(hours=1)

ENGAGED = Sentence(
    gettext_noop("Removals are held for review on this connection: this one waits with them.")
).english()
#: Why the removal of someone whose earlier removal an admin rejected waits: that person
#: is reviewed again, but the brake is not engaged by them (the others' removals go on).
REVIEW_AGAIN = Sentence(
    gettext_noop("An admin rejected this person's earlier removal: this one waits for review too.")
).english()
#: Why the brake holds a removal.
TOO_MANY = Sentence(
    gettext_noop(
        "%(removed)s people removed within an hour: more than %(percent)s%% of %(base)s "
        "active users (and at least %(minimum)s)."
    ),
    numbers=("removed", "percent", "base", "minimum"),
)
LINKED_AGAIN = Sentence(
    gettext_noop("Another user of this connection is linked to the same person now.")
)
RECREATED = Sentence(
    gettext_noop("The identity provider has since created %(user)s again: restore is not possible.")
)

_HOOKS = {RemovalKind.DEACTIVATE: "user_deactivated", RemovalKind.DELETE: "user_deleted"}

#: Seconds the population an hour of removals began with is kept (the cache).
POPULATION_SECONDS = 600

#: The largest removal id a database holds (a 64-bit key): faces refuse larger ones as
#: invalid, before SQLite refuses to bind them.
MAX_REMOVAL_ID = 2**63 - 1


# The brake ----------------------------------------------------------------------------


def remove(user: DirectoryUser, kind: RemovalKind, events: EventRecorder) -> bool:
    """The host effects of the IdP deactivating or deleting ``user`` (locked, its
    connection attached), inside the change's transaction: applied at once, or held by
    the brake (a ``user.removal_held`` event). Whether they were applied."""
    connection = user.connection
    # A deactivated user's deletion removes nobody new: it does not count toward the
    # threshold (it is still held while the brake is engaged).
    counted = kind == RemovalKind.DEACTIVATE or is_active(user.active)
    # One statement: this person's held or rejected removal, and any held one (the
    # brake is engaged while a removal it held waits for a decision).
    waiting = list(
        Removal.objects.filter(
            Q(user_id=user.pk) | engaging(),
            connection=connection,
            state__in=[RemovalState.HELD, RemovalState.REJECTED],
        )
        .annotate(mine=Case(When(user_id=user.pk, then=Value(0)), default=Value(1)))
        .order_by("mine")
        .values_list("user_id", "state", "pk")[:3]
    )
    mine = {state: pk for user_id, state, pk in waiting if user_id == user.pk}
    if RemovalState.HELD in mine:
        # Deleted after a held deactivation: one decision, now about the deletion. Unless
        # it was decided meanwhile (an admin approving it at this moment): then this
        # removal is one of its own, read again.
        if Removal.objects.filter(pk=mine[RemovalState.HELD], state=RemovalState.HELD).update(
            kind=kind
        ):
            return False
        return remove(user, kind, events)
    reason = ""
    if RemovalState.REJECTED in mine:
        reason = REVIEW_AGAIN
        # The new removal carries the question now: the rejection left behind would keep
        # the person's kept copy from ever being purged once this one is decided.
        Removal.objects.filter(
            connection=connection, user_id=user.pk, state=RemovalState.REJECTED
        ).update(state=RemovalState.SUPERSEDED)
    elif connection.brake_enabled:
        if any(other != user.pk for other, _state, _pk in waiting):
            reason = ENGAGED
        else:
            reason = _brake_reason(connection, user, counted)
    state = RemovalState.HELD if reason else RemovalState.APPLIED
    Removal.objects.create(
        connection=connection,
        user_id=user.pk,
        user_name=user.user_name,
        kind=kind,
        state=state,
        counted=counted,
        reason=reason,
    )
    if reason:
        changes = {"userName": user.user_name, "kind": kind.value, "reason": reason}
        events.add(EventType.USER_REMOVAL_HELD, "User", user.pk, changes)
        return False
    call_adapter(_HOOKS[kind], user)
    return True


def _brake_reason(connection: Connection, user: DirectoryUser, counted: bool) -> str:
    """Why the brake (not engaged yet) holds this removal, or "" when it does not."""
    if not counted:
        return ""
    # Count under the connection's row lock (every directory write takes it anyway, to
    # number its events; this takes it before the host effects instead of after): removals
    # at once are counted one after the other, and none slips past the threshold because
    # another, not committed yet, was not seen.
    Connection.objects.select_for_update().filter(pk=connection.pk).values_list("pk").first()
    since = timezone.now() - WINDOW
    removals = Removal.objects.filter(connection=connection)
    window = removals.filter(counted=True, at__gte=since).aggregate(n=Count("pk"), first=Min("pk"))
    if window["n"] + 1 < connection.brake_minimum:
        return ""
    if removals.filter(engaging()).exists():
        return ENGAGED
    # An admin's approval settles what came before it: the rest of a removal they
    # approved is not held again for the same hour.
    approved = (
        removals.filter(state=RemovalState.APPROVED, decided_at__gte=since)
        .order_by("-decided_at")
        .values_list("decided_at", flat=True)
        .first()
    )
    # People, not removals: someone the IdP deactivates and reactivates again and again
    # within the hour is one person removed.
    others = (
        removals.filter(counted=True, at__gte=max(since, approved or since))
        .exclude(user_id=user.pk)
        .order_by()
        .values("user_id")
    )
    removed = others.distinct().count() + 1
    if removed < connection.brake_minimum:
        return ""
    # The population the hour began with: who is active now, and who was removed since
    # (each once, reactivated or not). It stays what it was while the same removals are
    # in the hour, so it is counted (all the directory's active users) once per hour's
    # start, not once per removal of a large one; kept in the cache.
    since_approval = int(approved.timestamp() * 1_000_000) if approved else 0
    key = f"scim_portal:brake:{connection.pk}:{window['first']}:{since_approval}"
    base = guarded(lambda: cache.get(key), None, "the brake's population")
    if base is None:
        active = (
            DirectoryUser.objects.filter(connection=connection)
            .exclude(active=False)
            .exclude(pk=user.pk)
            .exclude(pk__in=others)
            .count()
        )
        base = active + removed
        guarded(lambda: cache.set(key, base, POPULATION_SECONDS), None, "the brake's population")
    if removed * 100 <= connection.brake_percent * base:
        return ""
    return TOO_MANY.english(
        removed=removed,
        percent=connection.brake_percent,
        base=base,
        minimum=connection.brake_minimum,
    )


def engaging() -> Q:
    """Held removals that keep the brake engaged: those it held, not a rejected person's
    next removal waiting for review on its own."""
    return Q(state=RemovalState.HELD) & ~Q(reason=REVIEW_AGAIN)


def held_ids(connection: Connection, user_ids: Iterable[Any]) -> set[Any]:
    """Those of ``user_ids`` whose removal the brake holds: their role and group changes
    wait with it."""
    ids = list(user_ids)
    if not ids:
        return set()
    return set(
        Removal.objects.filter(
            connection=connection, state=RemovalState.HELD, user_id__in=ids
        ).values_list("user_id", flat=True)
    )


def hold_group_removals(connection: Connection, group: Any, user_ids: set[Any]) -> set[Any]:
    """Of the people who just left ``group``, those whose removal the brake holds: their
    ``members_removed`` waits with it (recorded on the removal). The others, to be told now."""
    waiting = list(
        Removal.objects.filter(
            connection=connection, state=RemovalState.HELD, user_id__in=list(user_ids)
        )
    )
    for removal in waiting:
        if str(group.pk) not in removal.groups_left:
            removal.groups_left = [*removal.groups_left, str(group.pk)]
    Removal.objects.bulk_update(waiting, ["groups_left"])
    return user_ids - {removal.user_id for removal in waiting}


def _replay_group_removals(connection: Connection, removal: Removal) -> None:
    """Tell the adapter of the groups ``removal``'s person left while it waited (those
    that still exist and that the person has not joined again since)."""
    if not removal.groups_left:
        return
    back = GroupMembership.objects.filter(user_id=removal.user_id).values("group_id")
    for group in DirectoryGroup.objects.filter(
        connection=connection, pk__in=removal.groups_left
    ).exclude(pk__in=back):
        call_adapter("members_removed", group, {removal.user_id})


def reactivated(user: DirectoryUser, events: EventRecorder) -> None:
    """The IdP reactivated ``user``: a removal waiting or rejected is moot. A held one's
    role changes are applied now (they waited with it)."""
    pending = Removal.objects.filter(
        connection=user.connection,
        user_id=user.pk,
        state__in=[RemovalState.HELD, RemovalState.REJECTED],
    )
    # One read when nothing waits (every reactivation asks).
    settled = list(pending)
    if not settled:
        return
    Removal.objects.filter(pk__in=[removal.pk for removal in settled]).update(
        state=RemovalState.SUPERSEDED, decided_at=timezone.now()
    )
    was_held = [removal for removal in settled if removal.state == RemovalState.HELD]
    if was_held:
        call_adapter("roles_changed", user, user.role, user.role)
        for removal in was_held:
            _replay_group_removals(user.connection, removal)


# Deciding held removals ---------------------------------------------------------------


def held(
    connection: Connection, ids: Iterable[Any] | None = None, *, through: Any = None
) -> QuerySet[Removal]:
    """The removals waiting for a decision (all, or those of these ``Removal`` ids), up
    to the removal ``through`` when given (what a preview showed: removals held since
    are not part of it)."""
    rows = Removal.objects.filter(connection=connection, state=RemovalState.HELD)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    if through is not None:
        rows = rows.filter(pk__lte=through)
    return rows.order_by("at", "pk")


def preview_approval(
    connection: Connection, ids: Iterable[Any] | None = None, *, through: Any = None
) -> Effects:
    """Exactly what approving these held removals (all when ``ids`` is None) would change
    in the host, under the default adapter's rules; nothing is written. Set-based: the
    same handful of statements for one removal or a million (:mod:`.effects`)."""
    return _effects(connection, held(connection, ids, through=through).order_by())


def _kinds(removals: QuerySet[Removal]) -> Effects:
    """How many of ``removals`` there are, of each kind (nothing about the host)."""
    kinds = removals.aggregate(
        deactivations=Count("pk", filter=Q(kind=RemovalKind.DEACTIVATE)),
        deletions=Count("pk", filter=Q(kind=RemovalKind.DELETE)),
    )
    return Effects(removals=kinds["deactivations"] + kinds["deletions"], **kinds)


def _effects(connection: Connection, removals: QuerySet[Removal]) -> Effects:
    kinds = _kinds(removals)
    if not kinds.removals:
        return kinds
    kind = Subquery(removals.filter(user_id=OuterRef("pk")).values("kind")[:1])
    people = removals.values("user_id")
    live = DirectoryUser.objects.filter(connection=connection, pk__in=people)
    host = host_effects(connection, live.annotate(removal_kind=kind))
    kept = unrelinked(connection, DeletedUser.objects.filter(connection=connection, pk__in=people))
    if kept.exists():
        host += host_effects(connection, kept.annotate(removal_kind=kind))
    return replace(
        kinds,
        memberships_deactivated=host.memberships_deactivated,
        memberships_removed=host.memberships_removed,
        host_users_deactivated=host.host_users_deactivated,
        unlinked=kinds.removals - host.linked,
    )


def unrelinked(connection: Connection, copies: QuerySet[DeletedUser]) -> QuerySet[DeletedUser]:
    """Those kept ``copies`` whose host user no directory user of ``connection`` is linked
    to now: the others' host effects are the live user's business (the IdP created the
    person again)."""
    relinked = DirectoryUser.objects.filter(
        connection=connection, host_user_id=OuterRef("host_user_id")
    )
    return copies.exclude(Exists(relinked))


def unapplied_deletions(connection: Connection) -> QuerySet[DeletedUser]:
    """Kept copies of deleted users whose deletion never reached the host: held by the
    brake, or rejected by an admin."""
    waiting = Removal.objects.filter(
        connection=connection,
        kind=RemovalKind.DELETE,
        state__in=[RemovalState.HELD, RemovalState.REJECTED],
    ).values("user_id")
    return DeletedUser.objects.filter(connection=connection, pk__in=waiting)


@transaction.atomic
def approve(
    connection: Connection,
    ids: Iterable[Any] | None = None,
    *,
    through: Any = None,
    actor: Actor = SYSTEM,
) -> int:
    """Apply the host effects of the held removals (all when ``ids`` is None, up to the
    removal ``through`` when given), in one transaction; ``user.removal_approved``
    events name ``actor``. The number decided (:func:`decide` says what changed)."""
    return decide(connection, RemovalState.APPROVED, ids, through=through, actor=actor).removals


@transaction.atomic
def reject(
    connection: Connection,
    ids: Iterable[Any] | None = None,
    *,
    through: Any = None,
    actor: Actor = SYSTEM,
) -> int:
    """Keep the people of the held removals active in the host: they diverge from the
    directory (the drift report shows them). The number decided."""
    return decide(connection, RemovalState.REJECTED, ids, through=through, actor=actor).removals


#: Held removals decided per statement batch (bounded memory and statement size).
DECIDE_BATCH_SIZE = 500


@transaction.atomic
def decide(
    connection: Connection,
    state: RemovalState,
    ids: Iterable[Any] | None = None,
    *,
    through: Any = None,
    actor: Actor = SYSTEM,
) -> Effects:
    """Approve (``RemovalState.APPROVED``) or reject (``REJECTED``) the held removals —
    all when ``ids`` is None, up to the removal ``through`` when given — in one
    transaction, with a ``user.removal_approved`` or ``user.removal_rejected`` event
    naming ``actor`` for each. What it changed in the host: for an approval, what
    :func:`preview_approval` would have said for the same removals at that moment; for
    a rejection, nothing but the number of removals of each kind.

    An approved deactivation also gives the person the role the directory gives them
    now: role changes waited with the removal, and a later reactivation must not bring
    back the role they had before."""
    if state not in {RemovalState.APPROVED, RemovalState.REJECTED}:
        raise ValueError(f"Held removals are approved or rejected, not {state}.")
    ids = None if ids is None else list(ids)
    pks = list(
        held(connection, ids, through=through).select_for_update().values_list("pk", flat=True)
    )
    if not pks:
        return Effects()
    # What was locked, and nothing held since (a later removal has a higher id).
    chosen = held(connection, ids, through=max(pks)).order_by()
    approving = state == RemovalState.APPROVED
    effects = _effects(connection, chosen) if approving else _kinds(chosen)
    now, person = timezone.now(), actor.user if actor.kind == "user" else None
    kind = EventType.USER_REMOVAL_APPROVED if approving else EventType.USER_REMOVAL_REJECTED
    with recording(connection, actor) as events:
        for start in range(0, len(pks), DECIDE_BATCH_SIZE):
            rows = list(Removal.objects.filter(pk__in=pks[start : start + DECIDE_BATCH_SIZE]))
            for removal, subject in _subjects(connection, rows):
                if approving and subject is not None:
                    if removal.kind == RemovalKind.DEACTIVATE:
                        call_adapter("roles_changed", subject, subject.role, subject.role)
                        _replay_group_removals(connection, removal)
                    call_adapter(_HOOKS[RemovalKind(removal.kind)], subject)
                removal.state, removal.decided_at, removal.decided_by = state, now, person
                changes = {"userName": removal.user_name, "kind": removal.kind}
                events.add(kind, "User", removal.user_id, changes)
            Removal.objects.bulk_update(rows, ["state", "decided_at", "decided_by"])
    return effects


@transaction.atomic
def apply_rejected(connection: Connection, ids: Iterable[Any], *, actor: Actor = SYSTEM) -> int:
    """An admin changes their mind about rejected removals (these ``Removal`` ids): their
    host effects happen now, as approving them would have done, and they are marked
    approved (``user.removal_approved`` events with ``"rejected": true``). The number
    applied; ids of other connections or other states are ignored."""
    rows = list(
        Removal.objects.filter(
            connection=connection, state=RemovalState.REJECTED, pk__in=list(ids)
        ).select_for_update()
    )
    if not rows:
        return 0
    now, person = timezone.now(), actor.user if actor.kind == "user" else None
    with recording(connection, actor) as events:
        for removal, subject in _subjects(connection, rows):
            if subject is not None:
                if removal.kind == RemovalKind.DEACTIVATE:
                    call_adapter("roles_changed", subject, subject.role, subject.role)
                    _replay_group_removals(connection, removal)
                call_adapter(_HOOKS[RemovalKind(removal.kind)], subject)
            removal.state, removal.decided_at, removal.decided_by = (
                RemovalState.APPROVED, now, person
            )  # fmt: skip
            changes = {"userName": removal.user_name, "kind": removal.kind, "rejected": True}
            events.add(EventType.USER_REMOVAL_APPROVED, "User", removal.user_id, changes)
        Removal.objects.bulk_update(rows, ["state", "decided_at", "decided_by"])
    return len(rows)


def _subjects(connection: Connection, removals: Iterable[Removal]) -> Iterable[tuple[Removal, Any]]:
    """Each removal with the directory user its host effects are about: the live row, or
    (deleted) its kept copy; None when neither is left, or when someone else of this
    connection is linked to that host user now (the IdP created the person again)."""
    removals = list(removals)
    ids = [removal.user_id for removal in removals]
    live = {
        user.pk: user
        for user in DirectoryUser.objects.filter(connection=connection, pk__in=ids).select_related(
            "host_user"
        )
    }
    kept = {
        copy.pk: copy
        for copy in DeletedUser.objects.filter(connection=connection, pk__in=ids).select_related(
            "host_user"
        )
    }
    relinked = set(
        DirectoryUser.objects.filter(
            connection=connection,
            host_user__in=[copy.host_user_id for copy in kept.values() if copy.host_user_id],
        ).values_list("host_user_id", flat=True)
    )
    for removal in removals:
        subject = live.get(removal.user_id)
        if subject is None and removal.user_id in kept:
            copy = kept[removal.user_id]
            if copy.host_user_id not in relinked:
                subject = _as_user(connection, copy)
        if subject is not None:
            subject.connection = connection
        yield removal, subject


# Deleted users, kept restorable ----------------------------------------------------


def keep_deleted(user: DirectoryUser) -> None:
    """Keep a copy of ``user`` (about to be deleted) with the groups it is in, restorable
    for ``RESTORE_WINDOW_DAYS``."""
    groups = [
        [str(group_id), display]
        for group_id, display in GroupMembership.objects.filter(user=user).values_list(
            "group_id", "display"
        )
    ]
    now = timezone.now()
    DeletedUser.objects.update_or_create(
        id=user.pk,
        defaults={
            "connection": user.connection,
            "user_name": user.user_name,
            "display_name": user.display_name,
            "email": user.email,
            "external_id": user.external_id,
            "active": user.active,
            "attributes": user.attributes,
            "created": user.created,
            "version": user.version,
            "host_user": user.host_user,
            "host_link": user.host_link,
            "role": user.role,
            "groups": groups,
            "deleted_at": now,
            "purge_after": now + timedelta(days=app_settings.RESTORE_WINDOW_DAYS),
        },
    )


def restorable(connection: Connection) -> Any:
    """The connection's deleted users that can still be restored, newest first."""
    return DeletedUser.objects.filter(connection=connection, purge_after__gt=timezone.now())


def _as_user(connection: Connection, copy: DeletedUser) -> DirectoryUser:
    user = DirectoryUser(
        id=copy.pk,
        connection=connection,
        user_name=copy.user_name,
        display_name=copy.display_name,
        email=copy.email,
        external_id=copy.external_id,
        active=copy.active,
        attributes=copy.attributes,
        created=copy.created,
        version=copy.version,
        host_user=copy.host_user,
        host_link=copy.host_link,
        role=copy.role,
    )
    return user


class CannotRestore(ProvisioningError):
    """The deleted user cannot come back as it was (say the IdP created its userName again)."""


@transaction.atomic
def restore(connection: Connection, user_id: Any, *, actor: Actor = SYSTEM) -> DirectoryUser:
    """Bring a deleted user back as it was: its directory row (same id), its groups that
    still exist, its role from the mappings, and in the host its membership (the
    adapter's ``user_restored``) and group memberships (``members_added``). A removal
    the brake still holds for it, or one an admin rejected, is moot.
    ``ResourceNotFound`` past the grace period, :class:`CannotRestore` when the IdP has
    since created the same userName or linked its host user again."""
    copy = (
        (restorable(connection).select_for_update(of=("self",)).select_related("host_user"))
        .filter(pk=user_id)
        .first()
    )
    if copy is None:
        raise ResourceNotFound("No deleted user with this id can be restored.")
    if DirectoryUser.objects.filter(
        connection=connection, user_name_key=fold(copy.user_name)
    ).exists():
        raise CannotRestore(RECREATED.english(user=copy.user_name))
    user = _as_user(connection, copy)
    if user.host_user is not None and is_protected(user.host_user):
        # Staff or superuser since: never linked by a connection; they come back unlinked.
        user.host_user, user.host_link = None, HostLink.BLOCKED
    if user.host_user_id is not None:
        taken = DirectoryUser.objects.filter(host_user_id=user.host_user_id)
        if taken.filter(connection=connection).exists():
            raise CannotRestore(LINKED_AGAIN.english())
        if user.host_link == HostLink.MANAGED and taken.filter(host_link=HostLink.MANAGED).exists():
            # Another connection manages them now: only the membership comes back.
            user.host_link = HostLink.MEMBER
    user.version += 1
    user.last_modified = timezone.now()
    with recording(connection, actor) as events:
        try:
            save_unique(user, "userName", user.user_name, force_insert=True)
        except UniquenessConflict as exc:
            raise CannotRestore(str(exc)) from exc
        DirectoryUserValue.objects.bulk_create(value_rows(user))
        displays = {group_id: display for group_id, display in copy.groups}
        groups = list(DirectoryGroup.objects.filter(connection=connection, pk__in=list(displays)))
        GroupMembership.objects.bulk_create(
            [
                GroupMembership(group=group, user=user, display=displays[str(group.pk)])
                for group in groups
            ],
            ignore_conflicts=True,
        )
        # A removal waiting or rejected is moot: the person is back in the directory
        # (a rejected one left would hold their next removal for review).
        Removal.objects.filter(
            connection=connection,
            user_id=user.pk,
            state__in=[RemovalState.HELD, RemovalState.REJECTED],
        ).update(state=RemovalState.SUPERSEDED, decided_at=timezone.now())
        from .roles import recompute_roles

        call_adapter("user_restored", user)
        for group in groups:
            group.version += 1
            group.last_modified = user.last_modified
            group.save(update_fields=["version", "last_modified"])
            call_adapter("members_added", group, {user.pk})
        changes = {
            "userName": user.user_name,
            "groups": [str(group.pk) for group in groups],
            "host_link": HostLink.public(user.host_link),
        }
        events.add(EventType.USER_RESTORED, "User", user.pk, changes)
        recompute_roles(connection, [user.pk], events)
        copy.delete()
    return user


def drop_deleted(connection: Connection, *, remove_directory: bool, limit: int) -> int:
    """Delete up to ``limit`` kept copies of deleted users of ``connection``, which is
    being deleted; those whose deletion never reached the host (held by the brake, or
    rejected) go through the adapter's ``user_deleted`` first when ``remove_directory``:
    removing the connection's users removes them too. How many were deleted."""
    copies = list(
        DeletedUser.objects.filter(connection=connection)
        .order_by("pk")
        .select_related("host_user")[:limit]
    )
    ids = [copy.pk for copy in copies]
    if remove_directory:
        waiting = set(
            unrelinked(connection, unapplied_deletions(connection))
            .filter(pk__in=ids)
            .values_list("pk", flat=True)
        )
        for copy in copies:
            if copy.pk in waiting:
                call_adapter("user_deleted", _as_user(connection, copy))
    DeletedUser.objects.filter(pk__in=ids).delete()
    return len(ids)


def purge_deleted(now: Any = None) -> int:
    """Delete kept copies past their grace period (not while a held or rejected deletion
    needs one: approving it applies its host effects through the copy, and the drift
    report shows the person under it), and removal records no longer needed (decided or
    applied, older than the request log's retention); the number of copies purged."""
    now = now or timezone.now()
    waiting = Removal.objects.filter(state__in=[RemovalState.HELD, RemovalState.REJECTED]).values(
        "user_id"
    )
    purged = DeletedUser.objects.filter(purge_after__lte=now).exclude(pk__in=waiting).delete()[0]
    Removal.objects.filter(
        ~Q(state__in=[RemovalState.HELD, RemovalState.REJECTED]),
        at__lt=now - timedelta(days=app_settings.REQUEST_LOG_RETENTION_DAYS),
    ).delete()
    return purged
