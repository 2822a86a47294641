"""The directory a connection's identity provider writes: users, groups, memberships.

What the IdP sent is kept so it gets back exactly what it wrote: the attributes
that are filtered on all day live in indexed columns, the rest of the resource in
``attributes`` (JSON). ``userName`` and ``displayName`` compare ignoring case through
their folded keys (:mod:`.folding`); uniqueness of a user's key and a group's per
connection is a database constraint, so concurrent creates cannot both win.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import cache
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import connections, models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .._uuid import uuid7
from . import _sql
from .connections import Connection
from .folding import MAX_EXPANSION, FoldedKeyField

R = TypeVar("R", bound="DirectoryResource")

#: The longest folded ``value`` of a multi-valued item kept in its ``value_key`` (the
#: writer leaves longer ones out; filters then compare the stored item instead).
VALUE_KEY_LENGTH = 255


class DirectoryResourceManager(models.Manager[R], Generic[R]):
    """Users' and groups' ``objects``. Every SCIM read of one resource (GET by id, a
    lookup by userName) goes through :meth:`one`: its SQL is written once, not compiled
    per request (docs/benchmarks.md, "Hand-written SQL, statement by statement")."""

    def one(self, connection: Any, **key: Any) -> R | None:
        """The resource of ``connection`` (its primary key) whose unique ``key`` — its
        ``id``, or the folded key of its unique name — has this value, or None.
        ``ValidationError`` for a value the field cannot hold (a malformed id), as
        ``filter()`` raises it."""
        using = self.db
        sql = _one_sql(self.model, tuple(key), using)
        params = _sql.prepared(self.model, {"connection": connection, **key}, using)
        rows = _sql.fetch(sql, params, using)
        return _sql.build(self.model, rows[0], using) if rows else None


class DirectoryUserManager(DirectoryResourceManager["DirectoryUser"]):
    def one_with_groups(
        self, connection: Any, **key: Any
    ) -> tuple[DirectoryUser, list[tuple[Any, Any, str]]] | None:
        """:meth:`one` and ``GroupMembership.objects.groups_of([its id])`` in one
        statement (a ``LEFT JOIN``): one round trip to the database instead of two."""
        using = self.db
        sql = _one_with_groups_sql(tuple(key), using)
        params = _sql.prepared(self.model, {"connection": connection, **key}, using)
        found = users_with_groups(_sql.fetch(sql, params, using), using)
        return found[0] if found else None


def users_with_groups(
    rows: Sequence[Sequence[Any]], using: str
) -> list[tuple[DirectoryUser, list[tuple[Any, Any, str]]]]:
    """The users of rows read by a statement starting with :func:`users_with_groups_sql`,
    in row order, each with ``(user id, group id, group displayName)`` of its memberships."""
    width = len(DirectoryUser._meta.concrete_fields)
    group_id: Any = GroupMembership._meta.get_field("group").to_python
    found: dict[Any, tuple[DirectoryUser, list[tuple[Any, Any, str]]]] = {}
    for row in rows:
        user_id = _sql.python_value(DirectoryUser._meta.pk, row[0], using)
        if user_id not in found:
            found[user_id] = (_sql.build(DirectoryUser, row, using), [])
        if row[width] is not None:
            found[user_id][1].append((user_id, group_id(row[width]), row[width + 1]))
    return list(found.values())


class DirectoryResource(models.Model):
    """Columns shared by users and groups."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # Every index and constraint below starts with the connection; no index of its own.
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, db_index=False)
    # NULL is "the IdP sent no externalId", which SCIM tells apart from "".
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    attributes = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False)
    last_modified = models.DateTimeField(default=timezone.now)
    #: Incremented on every write; the SCIM ``meta.version`` (weak ETag).
    version = models.PositiveBigIntegerField(default=1)
    #: The id another service provider served for this resource when it was imported
    #: from there (django-scim2's integer ids): identity providers keep using the ids they
    #: stored, so every lookup by id accepts it too (:func:`resource_key`). None otherwise.
    legacy_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001

    class Meta:
        abstract = True

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'


def resource_key(resource_id: Any) -> dict[str, Any]:
    """The unique key a SCIM id names: the primary key when it is a UUID, else the
    ``legacy_id`` an import kept (``{"legacy_id": "42"}``). ``ValueError`` for one with a
    NUL, which no legacy id holds and PostgreSQL refuses even in a lookup (the URL's id
    is not checked as bodies and query strings are)."""
    text = str(resource_id)
    try:
        return {"id": uuid.UUID(text)}
    except ValueError:
        if "\x00" in text:
            raise ValueError(f"{text!r} is no resource id.") from None
        return {"legacy_id": text}


class HostLink(models.TextChoices):
    """How a directory user stands to a host user (docs/security.md, "Ownership")."""

    NONE = "", _("Not linked")
    #: Created by this connection, or claimed through a verified domain: the connection
    #: manages the host user's profile, and its membership of the account.
    MANAGED = "managed", _("Managed by this connection")
    #: The person accepted an invitation: only their membership of this account follows.
    MEMBER = "member", _("Linked (membership only)")
    #: The email belongs to a host user this connection may not claim; invited to accept.
    AWAITING = "awaiting", _("Awaiting the person")
    #: The email belongs to a host user no connection may touch (staff, or ambiguous).
    BLOCKED = "blocked", _("Not linked: protected account")

    @classmethod
    def public(cls, value: str) -> str:
        """``value`` as the tenant may see it: awaiting and blocked look alike, so a
        connection cannot tell vendor staff or shared addresses from anyone else."""
        return "pending" if value in {cls.AWAITING, cls.BLOCKED} else value


class DirectoryUser(DirectoryResource):
    """A user provisioned by an identity provider; ``id`` is its SCIM id."""

    user_name = models.CharField(max_length=255)
    #: ``fold(user_name)``: what lookups, filters, sorting and uniqueness compare.
    user_name_key = FoldedKeyField(source="user_name", max_length=255 * MAX_EXPANSION)
    display_name = models.CharField(max_length=255, blank=True)
    display_name_key = FoldedKeyField(
        source="display_name", max_length=255 * MAX_EXPANSION, blank=True
    )
    #: The primary email (or the first one); all emails are in ``attributes``.
    email = models.CharField(max_length=254, blank=True)
    #: None when the IdP never set ``active`` (RFC 7643: unassigned); provisioning
    #: treats that as active, filters treat it as absent.
    active = models.BooleanField(null=True, default=True)
    host_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="scim_directory_users",
    )
    host_link = models.CharField(max_length=10, choices=HostLink.choices, blank=True)
    #: While ``host_link`` is "awaiting": the host user who may accept the link.
    awaited_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    #: The host role the directory gives this user (from role mappings), or "".
    role = models.CharField(max_length=100, blank=True)

    objects = DirectoryUserManager()

    class Meta:
        # Never order by the connection: that would join its table into every query.
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "user_name_key"], name="scim_user_name_key_unique"
            ),
            # A host user is managed by at most one connection, and linked once per connection.
            models.UniqueConstraint(
                fields=["host_user"],
                condition=Q(host_link="managed"),
                name="scim_user_one_manager",
            ),
            models.UniqueConstraint(
                fields=["connection", "host_user"],
                condition=Q(host_user__isnull=False),
                name="scim_user_host_once_per_conn",
            ),
            models.UniqueConstraint(
                fields=["connection", "legacy_id"],
                condition=Q(legacy_id__isnull=False),
                name="scim_user_legacy_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["connection", "id"], name="scim_user_conn_id_idx"),
            models.Index(fields=["connection", "external_id"], name="scim_user_extid_idx"),
            models.Index(fields=["connection", "display_name_key"], name="scim_user_dispkey_idx"),
            models.Index("connection", Lower("email"), name="scim_user_email_idx"),
            models.Index(fields=["connection", "active", "id"], name="scim_user_active_idx"),
            models.Index(fields=["connection", "created"], name="scim_user_created_idx"),
            models.Index(fields=["connection", "last_modified"], name="scim_user_modified_idx"),
        ]

    #: Set by the provisioning services: what was accepted but flagged (not stored here).
    warning: str = ""
    #: Set by the adapter: an existing host user was claimed or linked (not stored here).
    claimed: bool = False

    def __str__(self) -> str:
        return self.user_name


class DirectoryGroup(DirectoryResource):
    """A group provisioned by an identity provider; ``id`` is its SCIM id."""

    display_name = models.CharField(max_length=255)
    #: ``fold(display_name)``: what lookups, filters, sorting and uniqueness compare.
    display_name_key = FoldedKeyField(source="display_name", max_length=255 * MAX_EXPANSION)
    members = models.ManyToManyField(
        DirectoryUser, through="GroupMembership", related_name="directory_groups"
    )

    objects = DirectoryResourceManager["DirectoryGroup"]()

    class Meta:
        # Never order by the connection: that would join its table into every query.
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "display_name_key"], name="scim_group_name_key_unique"
            ),
            models.UniqueConstraint(
                fields=["connection", "legacy_id"],
                condition=Q(legacy_id__isnull=False),
                name="scim_group_legacy_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["connection", "id"], name="scim_group_conn_id_idx"),
            models.Index(fields=["connection", "external_id"], name="scim_group_extid_idx"),
            models.Index(fields=["connection", "last_modified"], name="scim_group_modified_idx"),
        ]

    def __str__(self) -> str:
        return self.display_name


class GroupMembershipManager(models.Manager["GroupMembership"]):
    def groups_of(self, user_ids: Sequence[Any]) -> list[tuple[Any, Any, str]]:
        """``(user id, group id, group displayName)`` of every membership of these users,
        by group id. Every page of users reads it: SQL written once."""
        if not user_ids:
            return []
        using = self.db
        database = connections[using]
        user: Any = self.model._meta.get_field("user")
        group: Any = self.model._meta.get_field("group")
        head, tail = _groups_of_sql(using)
        placeholders = ", ".join(["%s"] * len(user_ids))
        with database.cursor() as cursor:
            cursor.execute(
                f"{head}{placeholders}{tail}",
                [user.get_db_prep_value(user_id, database) for user_id in user_ids],
            )
            rows = cursor.fetchall()
        # Ids as the ORM gives them (SQLite stores them as text); the name is text.
        return [(user.to_python(u), group.to_python(g), name) for u, g, name in rows]

    def members_of(self, group_ids: Sequence[Any]) -> list[tuple[Any, ...]]:
        """``(group id, user id, display, user displayName, userName)`` of every membership
        of these groups, by user id."""
        return list(
            self.filter(group_id__in=group_ids)
            .values_list("group_id", "user_id", "display", "user__display_name", "user__user_name")
            .order_by("user_id")
        )


class GroupMembership(models.Model):
    """A user's membership of a group; unique per pair, indexed both ways."""

    group = models.ForeignKey(DirectoryGroup, on_delete=models.CASCADE, db_index=False)
    user = models.ForeignKey(DirectoryUser, on_delete=models.CASCADE, db_index=False)
    #: The member's ``display`` as the IdP sent it, echoed back; else the user's name.
    display = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False)

    objects = GroupMembershipManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="scim_membership_unique"),
        ]
        indexes = [models.Index(fields=["user", "group"], name="scim_membership_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id}"


class DirectoryUserValue(models.Model):
    """One item of a user's multi-valued attribute (an email, a phone number, …).

    A copy of what is in ``DirectoryUser.attributes``, one row per item, kept so
    filters such as ``emails[type eq "work"].value eq "…"`` run as an indexed
    ``EXISTS`` on every database instead of scanning JSON arrays.
    """

    user = models.ForeignKey(
        DirectoryUser, on_delete=models.CASCADE, related_name="values", db_index=False
    )
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, db_index=False)
    #: Lower-cased attribute path: "emails", or "<extension urn>:<name>".
    attribute = models.CharField(max_length=255)
    position = models.PositiveSmallIntegerField()
    #: Lower-cased ``type`` sub-attribute, if any.
    type = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    primary = models.BooleanField(null=True)
    #: ``fold()`` of the ``value`` sub-attribute when it fits the index; None otherwise.
    value_key = models.CharField(max_length=VALUE_KEY_LENGTH, null=True, blank=True)  # noqa: DJ001
    #: The whole item, for comparisons on its other sub-attributes.
    item = models.JSONField(default=dict)

    class Meta:
        indexes = [
            models.Index(fields=["user", "attribute"], name="scim_uservalue_user_idx"),
            models.Index(
                fields=["connection", "attribute", "value_key"], name="scim_uservalue_value_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.attribute}[{self.position}] of {self.user_id}"


class RoleMapping(models.Model):
    """Members of a directory group get a host role; the lowest precedence wins."""

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="role_mappings"
    )
    group = models.ForeignKey(
        DirectoryGroup, on_delete=models.CASCADE, related_name="role_mappings"
    )
    role = models.CharField(max_length=100)
    precedence = models.PositiveIntegerField(default=100)

    class Meta:
        ordering = ("connection_id", "precedence", "id")
        constraints = [
            models.UniqueConstraint(fields=["group"], name="scim_rolemapping_group_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.group} -> {self.role}"


# SQL written once (the managers' statements above), per database.


def _where(model: type[models.Model], names: tuple[str, ...], using: str) -> str:
    return " AND ".join(
        f"r.{_sql.column(model, name, using)} = %s" for name in ("connection", *names)
    )


@cache
def _one_sql(model: type[models.Model], names: tuple[str, ...], using: str) -> str:
    select = _sql.select_list(model, "r", using)
    table = _sql.table(model, using)
    return f"SELECT {select} FROM {table} r WHERE {_where(model, names, using)}"  # noqa: S608


@cache
def users_with_groups_sql(using: str) -> str:
    """``SELECT`` of users (alias ``r``) with the group id and displayName of each of their
    memberships (``m``, ``g``; NULLs for a user in no group), up to the ``WHERE``: what
    :func:`users_with_groups` reads."""

    def column(model: type[models.Model], name: str) -> str:
        return _sql.column(model, name, using)

    user, membership, group = DirectoryUser, GroupMembership, DirectoryGroup
    return (
        f"SELECT {_sql.select_list(user, 'r', using)}, "  # noqa: S608
        f"m.{column(membership, 'group')}, g.{column(group, 'display_name')} "
        f"FROM {_sql.table(user, using)} r "
        f"LEFT JOIN {_sql.table(membership, using)} m "
        f"ON m.{column(membership, 'user')} = r.{column(user, 'id')} "
        f"LEFT JOIN {_sql.table(group, using)} g "
        f"ON g.{column(group, 'id')} = m.{column(membership, 'group')} "
    )


@cache
def _one_with_groups_sql(names: tuple[str, ...], using: str) -> str:
    group = _sql.column(GroupMembership, "group", using)
    return (
        f"{users_with_groups_sql(using)}"
        f"WHERE {_where(DirectoryUser, names, using)} ORDER BY m.{group}"
    )


@cache
def _groups_of_sql(using: str) -> tuple[str, str]:
    """The statement of :meth:`GroupMembershipManager.groups_of`, split where the user
    ids go."""

    def column(model: type[models.Model], name: str) -> str:
        return _sql.column(model, name, using)

    membership, group = GroupMembership, DirectoryGroup
    head = (
        f"SELECT m.{column(membership, 'user')}, m.{column(membership, 'group')}, "  # noqa: S608
        f"g.{column(group, 'display_name')} FROM {_sql.table(membership, using)} m "
        f"INNER JOIN {_sql.table(group, using)} g "
        f"ON g.{column(group, 'id')} = m.{column(membership, 'group')} "
        f"WHERE m.{column(membership, 'user')} IN ("
    )
    return head, f") ORDER BY m.{column(membership, 'group')}"
