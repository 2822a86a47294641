"""The drift report: where the host application and a connection's directory disagree
(docs/provisioning.md, "Drift report").

Five kinds of row, each person under one kind only (the first that applies):

- ``held``: a removal the brake holds (:mod:`.safety`);
- ``rejected``: a removal an admin rejected, the person's latest: they stay active in the
  host though the directory deactivated or deleted them;
- ``membership``: a linked directory user whose host membership is missing while the
  directory says active, whose membership's active state is not the directory's, or
  (managed) whose host user is deactivated while the directory says active;
- ``role``: a linked directory user whose active host membership's role is not what
  the host stores for the directory's role (``AccountMemberships.stored_role``);
- ``unmanaged``: an active member of the account linked to no directory user of any of
  the account's connections (a deleted one whose deletion is held or rejected counts as
  linked: that person is shown as ``held`` or ``rejected``).

Every count and page is one statement over the directory, the removals and the host's
memberships (``AccountMemberships.members()``, read inside the SQL): nothing loops over
users in Python, so the report stays fast at any size. Pages are keyset-paged by a key
per kind (the host user's pk for ``unmanaged``, the directory user's id for the others).
Without ``members()`` the host cannot be read: only ``held`` and ``rejected`` are shown.

The fixes (:mod:`.reconcile`) each change one row in one transaction, with an event;
:mod:`.drift_csv` writes every row as CSV.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext

from ..conf import app_settings
from ..models import (
    Connection,
    DeletedUser,
    DirectoryUser,
    HostLink,
    Removal,
    RemovalKind,
    RemovalState,
)
from .adapter import AccountMemberships, get_memberships
from .domains import domain_of, verified_domains
from .ownership import is_protected

UNMANAGED, MEMBERSHIP, ROLE, HELD, REJECTED = "unmanaged", "membership", "role", "held", "rejected"
#: The kinds, in the order the report shows them.
KINDS = (UNMANAGED, MEMBERSHIP, ROLE, HELD, REJECTED)
#: Kinds read from the host's memberships (empty without ``members()``).
HOST_KINDS = (UNMANAGED, MEMBERSHIP, ROLE)
LINKED = (HostLink.MANAGED, HostLink.MEMBER)
PAGE_SIZE = 50
#: Rows read per statement when reading a whole kind (the CSV export).
BATCH = 1000

#: The fixes a row of each kind offers (:mod:`.reconcile`).
ACTIONS = {UNMANAGED: ("deactivate", "adopt"), MEMBERSHIP: ("reapply",), ROLE: ("reapply",),
           HELD: (), REJECTED: ("approve",)}  # fmt: skip


@dataclass(frozen=True)
class DriftRow:
    """One disagreement, in words for people and in fields for tools."""

    kind: str
    #: The row's place in its kind's order (the ``after`` of the next page).
    key: str
    user_name: str = ""
    directory_user_id: str | None = None
    host_user_id: Any = None
    host_username: str = ""
    email: str = ""
    #: What the directory says, and what the host has.
    directory: str = ""
    host: str = ""
    reason: str = ""
    removal_id: int | None = None
    removal_kind: str = ""
    at: datetime | None = None
    decided_by: str = ""
    #: Staff or superuser: no connection may touch them (no deactivate, no adopt).
    protected: bool = False
    #: An unmanaged member whose email is on a domain verified for the account.
    adoptable: bool = False
    actions: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "id": self.directory_user_id,
            "userName": self.user_name or None,
            "hostUser": (
                {"id": _json_id(self.host_user_id), "username": self.host_username}
                if self.host_user_id is not None
                else None
            ),
            "email": self.email,
            "directory": self.directory,
            "host": self.host,
            "actions": list(self.actions),
        }
        if self.removal_id is not None:
            data["removal"] = {
                "id": self.removal_id,
                "kind": self.removal_kind,
                "reason": self.reason,
                "at": _iso(self.at),
                "decidedBy": self.decided_by or None,
            }
        if self.kind == UNMANAGED:
            data |= {"protected": self.protected, "adoptable": self.adoptable}
        return data

    def as_held(self) -> dict[str, Any]:
        """A held removal as ``scim_portal drift --json`` lists it (a contract)."""
        return {
            "id": self.directory_user_id,
            "userName": self.user_name,
            "kind": self.removal_kind,
            "reason": self.reason,
            "heldAt": _iso(self.at),
            "removal": self.removal_id,
        }


@dataclass(frozen=True)
class DriftPage:
    rows: list[DriftRow]
    #: The key to pass as ``after`` for the next page, or None on the last one.
    next_after: str | None


class Drift:
    """The drift report of ``connection`` (its account loaded with it, or one query)."""

    def __init__(self, connection: Connection, memberships: AccountMemberships | None = None):
        self.connection = connection
        self.account = connection.account
        self.hook = memberships if memberships is not None else get_memberships()
        members = self.hook.members(self.account) if self.hook is not None else None
        #: Whether the host's memberships can be read (``members()`` is implemented).
        self.known = members is not None
        self.members: QuerySet[Any, Any] | None = members
        self._roles: list[str] | None = None

    # What each kind is, as a queryset ordered by its key ---------------------------------

    def queryset(self, kind: str) -> QuerySet[Any]:
        """Every row of ``kind``, ordered by its key."""
        if kind not in KINDS:
            raise ValueError(f"Unknown kind of drift {kind!r}: one of {', '.join(KINDS)}.")
        if kind == HELD:
            return self._removals(RemovalState.HELD)
        if kind == REJECTED:
            return self._removals(RemovalState.REJECTED).filter(self._latest())
        if self.members is None:
            model = get_user_model() if kind == UNMANAGED else DirectoryUser
            return model._default_manager.none()
        if kind == UNMANAGED:
            return self._unmanaged()
        if kind == MEMBERSHIP:
            return self._linked().filter(self._membership_q())
        return self._linked().filter(self._role_q())

    def _member(self, host_user: Any) -> QuerySet[Any, Any]:
        """The host's membership of ``host_user`` (an expression) in the account."""
        assert self.members is not None
        return self.members.filter(host_user=host_user)

    def _unmanaged(self) -> QuerySet[Any]:
        assert self.members is not None
        account = self.account.pk
        linked = DirectoryUser.objects.filter(
            connection__account_id=account, host_link__in=LINKED, host_user=OuterRef("pk")
        )
        # Deleted, and the deletion held or rejected: shown as such, not as unmanaged.
        waiting = Removal.objects.filter(
            connection_id=OuterRef("connection_id"),
            state__in=[RemovalState.HELD, RemovalState.REJECTED],
            user_id=OuterRef("pk"),
        )
        deleted = DeletedUser.objects.filter(
            connection__account_id=account, host_link__in=LINKED, host_user=OuterRef("pk")
        ).filter(Exists(waiting))
        active = self.members.filter(host_active=True).values("host_user")
        return (
            get_user_model()
            ._default_manager.filter(pk__in=active)
            .filter(~Exists(linked), ~Exists(deleted))
            .order_by("pk")
        )

    def _linked(self) -> QuerySet[DirectoryUser]:
        """The connection's directory users linked to a host user, none of them waiting
        on a removal held or rejected (those are their own kinds)."""
        held = Removal.objects.filter(
            connection=self.connection, state=RemovalState.HELD, user_id=OuterRef("pk")
        )
        rejected = self._removals(RemovalState.REJECTED).filter(
            self._latest(), user_id=OuterRef("pk")
        )
        return (
            DirectoryUser.objects.filter(
                connection=self.connection, host_link__in=LINKED, host_user__isnull=False
            )
            .filter(~Exists(held), ~Exists(rejected))
            .alias(expected_role=self._expected_role())
            .order_by("pk")
        )

    # ``active`` is NULL when the IdP never set it: active. Both are never NULL.
    SAYS_ACTIVE = Q(active=True) | Q(active__isnull=True)
    SAYS_INACTIVE = Q(active=False) & Q(active__isnull=False)

    def _membership_q(self) -> Q:
        member = self._member(OuterRef("host_user_id"))
        q = (
            (~Exists(member) & self.SAYS_ACTIVE)
            | (Exists(member.filter(host_active=True)) & self.SAYS_INACTIVE)
            | (Exists(member.filter(host_active=False)) & self.SAYS_ACTIVE)
        )
        locked = self._locked_out_q()
        return q if locked is None else q | locked

    def _locked_out_q(self) -> Q | None:
        """A host user the connection manages (not staff) is deactivated though the
        directory says active."""
        if not _has_field("is_active"):
            return None
        q = Q(host_link=HostLink.MANAGED, host_user__is_active=False) & self.SAYS_ACTIVE
        protected = _protected_q("host_user__")
        return q if protected is None else q & ~protected

    def _role_q(self) -> Q:
        """The directory says active and the active membership's role is not what the
        host stores for the directory's role (the outer query carries it as
        ``expected_role``: :meth:`_expected_role`); not a ``membership`` row.

        With one membership per member (what ``members()`` gives), an active membership
        and an active directory user make a ``membership`` row only when the host user is
        locked out: that is all this excludes, so the statement stays one semi-join
        (no per-row subplans). An inactive membership's role is not compared: hosts may
        drop the role of inactive members."""
        host_role = Coalesce(F("host_role"), Value(""), output_field=CharField())
        member = self._member(OuterRef("host_user_id")).filter(host_active=True)
        other = member.alias(shown=host_role).exclude(shown=OuterRef("expected_role"))
        q = Q(Exists(other)) & self.SAYS_ACTIVE
        locked = self._locked_out_q()
        return q if locked is None else q & ~locked

    def _expected_role(self) -> Any:
        """What the host stores for each directory user's role, as an expression: a
        ``CASE`` over the connection's few distinct roles the host stores otherwise."""
        assert self.hook is not None
        if self._roles is None:
            self._roles = sorted(
                DirectoryUser.objects.filter(connection=self.connection)
                .order_by()
                .values_list("role", flat=True)
                .distinct()
            )
        hook = self.hook
        whens = [
            When(role=role, then=Value(stored))
            for role in self._roles
            if (stored := hook.stored_role(role)) != role
        ]
        if not whens:
            return F("role")
        return Case(*whens, default=F("role"), output_field=CharField())

    def _removals(self, state: str) -> QuerySet[Removal]:
        return Removal.objects.filter(connection=self.connection, state=state).order_by("user_id")

    def _latest(self) -> Q:
        """The removal is its person's latest (a rejected one is moot once a later
        removal of the same person was decided or applied)."""
        later = Removal.objects.filter(
            connection=self.connection,
            state__in=RemovalState.values,  # the (connection, state, user_id) index
            user_id=OuterRef("user_id"),
            pk__gt=OuterRef("pk"),
        )
        return ~Q(Exists(later))

    # Counts and pages ------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """The number of rows of each kind: one ``COUNT`` each (none for the host's kinds
        when its memberships cannot be read)."""
        return {kind: self.queryset(kind).count() for kind in KINDS}

    def page(self, kind: str, after: str | None = None, limit: int = PAGE_SIZE) -> DriftPage:
        """Up to ``limit`` rows of ``kind`` after the key ``after`` (the start when None).
        ``ValueError`` when ``after`` is not a key of that kind, or ``limit`` is below 1."""
        if limit < 1:
            raise ValueError(f"A page holds at least one row, not {limit}.")
        rows = self.queryset(kind)
        if kind in HOST_KINDS and self.members is None:
            return DriftPage([], None)
        key = "pk" if kind in HOST_KINDS else "user_id"
        if after:
            rows = rows.filter(**{f"{key}__gt": self._key(kind, after)})
        found = list(self._detailed(kind, rows)[: limit + 1])
        built = self._build(kind, found[:limit])
        return DriftPage(built, built[-1].key if len(found) > limit else None)

    def rows(self, kind: str, batch: int = BATCH) -> Iterator[DriftRow]:
        """Every row of ``kind``, read ``batch`` at a time."""
        after = None
        while True:
            page = self.page(kind, after, batch)
            yield from page.rows
            if page.next_after is None:
                return
            after = page.next_after

    def _key(self, kind: str, value: str) -> Any:
        model = get_user_model() if kind == UNMANAGED else DirectoryUser
        pk = model._meta.pk
        assert pk is not None
        try:
            return pk.to_python(value)
        except ValidationError:
            raise ValueError(f"{value!r} is not a key of the {kind} rows.") from None

    def _detailed(self, kind: str, rows: QuerySet[Any]) -> QuerySet[Any]:
        """``rows`` with what a row shows beside its key."""
        if kind in (HELD, REJECTED):
            live = DirectoryUser.objects.filter(connection=self.connection, pk=OuterRef("user_id"))
            kept = DeletedUser.objects.filter(connection=self.connection, pk=OuterRef("user_id"))

            def either(name: str) -> Coalesce:
                return Coalesce(Subquery(live.values(name)[:1]), Subquery(kept.values(name)[:1]))

            username = f"host_user__{get_user_model().USERNAME_FIELD}"
            return rows.select_related("decided_by").annotate(
                email=either("email"), host_id=either("host_user"), host_name=either(username)
            )
        member = self._member(OuterRef("pk" if kind == UNMANAGED else "host_user_id"))
        rows = rows.annotate(
            host_role=Subquery(member.values("host_role")[:1]),
            host_active=Subquery(member.values("host_active")[:1]),
        )
        if kind == UNMANAGED:
            return rows
        return rows.select_related("host_user").annotate(expected=F("expected_role"))

    def _build(self, kind: str, found: list[Any]) -> list[DriftRow]:
        if kind == UNMANAGED:
            return self._unmanaged_rows(found)
        if kind in (HELD, REJECTED):
            return self._removal_rows(kind, found)
        return [self._linked_row(kind, user) for user in found]

    def _unmanaged_rows(self, users: list[Any]) -> list[DriftRow]:
        domains = verified_domains(self.account) if users else frozenset()
        rows = []
        for user in users:
            email = _email_of(user)
            protected = is_protected(user)
            adoptable = not protected and bool(email) and domain_of(email) in domains
            actions = () if protected else ("deactivate", "adopt") if adoptable else ("deactivate",)
            rows.append(
                DriftRow(
                    kind=UNMANAGED,
                    key=str(user.pk),
                    host_user_id=user.pk,
                    host_username=user.get_username(),
                    email=email,
                    directory=gettext("no directory user"),
                    host=_membership_words(True, user.host_role),
                    protected=protected,
                    adoptable=adoptable,
                    actions=actions,
                )
            )
        return rows

    def _linked_row(self, kind: str, user: DirectoryUser) -> DriftRow:
        says_active = user.active is not False
        host = _membership_words(user.host_active, user.host_role)  # type: ignore[attr-defined]
        host_user = user.host_user
        if (
            user.host_link == HostLink.MANAGED
            and says_active
            and getattr(host_user, "is_active", True) is False
        ):
            # Translators: appended to a membership's words ("active member, role admin").
            host = gettext("%(membership)s; user deactivated") % {"membership": host}
        expected = user.expected  # type: ignore[attr-defined]
        return DriftRow(
            kind=kind,
            key=str(user.pk),
            user_name=user.user_name,
            directory_user_id=str(user.pk),
            host_user_id=user.host_user_id,
            host_username=host_user.get_username() if host_user is not None else "",
            email=user.email,
            directory=(
                gettext("active, role %(role)s")
                if says_active
                else gettext("deactivated, role %(role)s")
            )
            % {"role": expected or "—"},
            host=host,
            actions=ACTIONS[kind],
        )

    def _removal_rows(self, kind: str, removals: list[Any]) -> list[DriftRow]:
        rows = []
        for removal in removals:
            what = (
                gettext("deleted") if removal.kind == RemovalKind.DELETE else gettext("deactivated")
            )
            decider = removal.decided_by.get_username() if removal.decided_by else ""
            if kind == HELD:
                host, at = gettext("still active: the removal waits for review"), removal.at
            elif decider:
                host = gettext("kept active: the removal was rejected by %(person)s") % {
                    "person": decider
                }
                at = removal.decided_at
            else:
                host, at = gettext("kept active: the removal was rejected"), removal.decided_at
            rows.append(
                DriftRow(
                    kind=kind,
                    key=str(removal.user_id),
                    user_name=removal.user_name,
                    directory_user_id=str(removal.user_id),
                    host_user_id=removal.host_id,
                    host_username=removal.host_name or "",
                    email=removal.email or "",
                    directory=what,
                    host=host,
                    reason=removal.reason,
                    removal_id=removal.pk,
                    removal_kind=removal.kind,
                    at=at,
                    decided_by=decider,
                    actions=ACTIONS[kind],
                )
            )
        return rows

    # As documents -------------------------------------------------------------------------

    def as_json(
        self, *, limit: int = PAGE_SIZE, kind: str | None = None, after: str | None = None
    ) -> dict[str, Any]:
        """Counts and the first page of rows of every kind (or the page of ``kind`` after
        ``after``): what the API answers and ``scim_portal drift --json`` prints."""
        pages = {}
        for name in [kind] if kind else KINDS:
            page = self.page(name, after if kind else None, limit)
            pages[name] = {
                "results": [row.as_json() for row in page.rows],
                "next": page.next_after,
            }
        return {
            "connection": str(self.connection.pk),
            "hostMembershipsKnown": self.known,
            "counts": self.counts(),
            "rows": pages,
        }


# Helpers ---------------------------------------------------------------------------------


def _membership_words(active: bool | None, role: str | None) -> str:
    if active is None:
        return gettext("no membership")
    words = (
        gettext("active member, role %(role)s")
        if active
        else gettext("inactive member, role %(role)s")
    )
    return words % {"role": role or "—"}


def _email_of(user: Any) -> str:
    return str(getattr(user, user.get_email_field_name(), "") or "")


def _has_field(name: str) -> bool:
    try:
        get_user_model()._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def _protected_q(prefix: str = "") -> Q | None:
    """:func:`~.ownership.is_protected` in SQL, on the user model at ``prefix`` (None
    when the model has neither field)."""
    flags = ["is_superuser"] + ([] if app_settings.PROVISION_STAFF else ["is_staff"])
    q = None
    for flag in flags:
        if _has_field(flag):
            q = Q(**{prefix + flag: True}) if q is None else q | Q(**{prefix + flag: True})
    return q


def _json_id(value: Any) -> Any:
    return value if isinstance(value, int) else str(value)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
