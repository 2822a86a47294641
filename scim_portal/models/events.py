"""Provisioning events: what changed in a connection's directory, in order."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connections, models, router
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..conf import get_account_model_label
from . import _sql
from .connections import Connection


class EventType(models.TextChoices):
    # The English labels are the ones Django derived from the names, which the
    # migrations record: changing them would need a migration.
    USER_CREATED = "user.created", _("User Created")
    USER_UPDATED = "user.updated", _("User Updated")
    USER_DEACTIVATED = "user.deactivated", _("User Deactivated")
    USER_REACTIVATED = "user.reactivated", _("User Reactivated")
    USER_DELETED = "user.deleted", _("User Deleted")
    GROUP_CREATED = "group.created", _("Group Created")
    GROUP_UPDATED = "group.updated", _("Group Updated")
    GROUP_DELETED = "group.deleted", _("Group Deleted")
    GROUP_MEMBERS_ADDED = "group.members_added", _("Group Members Added")
    GROUP_MEMBERS_REMOVED = "group.members_removed", _("Group Members Removed")
    ROLES_CHANGED = "roles.changed", _("Roles Changed")
    CONNECTION_CREATED = "connection.created", _("Connection Created")
    CONNECTION_DELETED = "connection.deleted", _("Connection Deleted")
    TOKEN_ISSUED = "token.issued", _("Token Issued")
    TOKEN_REVOKED = "token.revoked", _("Token Revoked")
    CREDENTIAL_ISSUED = "credential.issued", _("Credential Issued")
    CREDENTIAL_REVOKED = "credential.revoked", _("Credential Revoked")
    USER_LINKED = "user.linked", _("User Linked")
    CONNECTION_UPDATED = "connection.updated", _("Connection Updated")
    ROLE_MAPPING_SET = "role_mapping.set", _("Role Mapping Set")
    ROLE_MAPPING_REMOVED = "role_mapping.removed", _("Role Mapping Removed")
    USER_REMOVAL_HELD = "user.removal_held", _("User Removal Held")
    USER_REMOVAL_APPROVED = "user.removal_approved", _("User Removal Approved")
    USER_REMOVAL_REJECTED = "user.removal_rejected", _("User Removal Rejected")
    USER_RESTORED = "user.restored", _("User Restored")
    USER_ADOPTED = "user.adopted", _("User Adopted")
    DRIFT_FIXED = "drift.fixed", _("Drift Fixed")
    DOMAIN_ADDED = "domain.added", _("Domain Added")
    DOMAIN_VERIFIED = "domain.verified", _("Domain Verified")
    DOMAIN_REMOVED = "domain.removed", _("Domain Removed")


class ProvisioningEventManager(models.Manager["ProvisioningEvent"]):
    def create_numbered(
        self, connection: Connection, events: Sequence[ProvisioningEvent]
    ) -> list[ProvisioningEvent]:
        """Number ``events`` after ``connection``'s last event and insert them, inside the
        caller's transaction; the connection's row stays locked until it ends, so numbers
        follow commit order.

        On PostgreSQL one statement: the counter's ``UPDATE … RETURNING`` in a ``WITH``,
        the ``INSERT`` reading it (:func:`_create_numbered_sql`). Elsewhere its ORM twin,
        the counter's ``UPDATE … RETURNING`` then a bulk insert
        (:func:`_create_numbered_orm`); tests/test_sql.py checks they write the same rows.
        """
        using = router.db_for_write(self.model)
        if connections[using].vendor == "postgresql":
            return _create_numbered_sql(connection, list(events), using)
        return _create_numbered_orm(connection, list(events), using)


def _create_numbered_orm(
    connection: Connection, events: list[ProvisioningEvent], using: str
) -> list[ProvisioningEvent]:
    last = Connection.objects.reserve_event_numbers(connection, len(events))
    for offset, event in enumerate(events, start=1):
        event.number = last - len(events) + offset
    return ProvisioningEvent.objects.using(using).bulk_create(events)


def _create_numbered_sql(
    connection: Connection, events: list[ProvisioningEvent], using: str
) -> list[ProvisioningEvent]:
    database = connections[using]
    fields = _inserted_fields()
    pk_field = Connection._meta.pk
    assert pk_field is not None
    params: list[Any] = [len(events), pk_field.get_db_prep_value(connection.pk, database)]
    params.append(len(events))
    for position, event in enumerate(events, start=1):
        params.append(position)
        params += [
            field.get_db_prep_save(field.pre_save(event, True), database) for field in fields
        ]
    with database.cursor() as cursor:
        cursor.execute(_numbered_insert_sql(using, len(events)), params)
        rows = cursor.fetchall()
    if len(rows) != len(events):
        raise Connection.DoesNotExist(f"No connection {connection.pk} to number events in.")
    base = max(number for _, number in rows) - len(events)
    for pk, number in rows:
        event = events[number - base - 1]
        event.pk, event.number = pk, number
        event._state.adding, event._state.db = False, using
    return events


def _inserted_fields() -> list[Any]:
    """The columns the insert writes itself: all but the id and the number."""
    return [
        field
        for field in ProvisioningEvent._meta.concrete_fields
        if not field.primary_key and field.name != "number"
    ]


def _cast_type(field: Any, database: Any) -> str:
    """The column's type for a value of the VALUES list, but a varchar without its length:
    an explicit CAST to varchar(n) cuts a longer value, where the INSERT's own assignment
    refuses it as the ORM's insert does."""
    kind = str(field.db_type(database))
    return "varchar" if kind.startswith("varchar(") else kind


@lru_cache(maxsize=16)
def _numbered_insert_sql(using: str, count: int) -> str:
    database = connections[using]
    quote = database.ops.quote_name
    fields = _inserted_fields()
    columns = [quote(str(field.column)) for field in fields]
    row = ", ".join(["%s", *(f"CAST(%s AS {_cast_type(field, database)})" for field in fields)])
    rows = ", ".join(f"({row})" for _ in range(count))
    connection_table, counter, connection_pk = (
        _sql.table(Connection, using),
        _sql.column(Connection, "last_event_number", using),
        _sql.column(Connection, "id", using),
    )
    return (
        f"WITH counter AS (UPDATE {connection_table} SET {counter} = {counter} + %s "  # noqa: S608
        f"WHERE {connection_pk} = %s RETURNING {counter} AS last) "
        f"INSERT INTO {_sql.table(ProvisioningEvent, using)} "
        f"({_sql.column(ProvisioningEvent, 'number', using)}, {', '.join(columns)}) "
        f"SELECT counter.last - %s + v.position, {', '.join(f'v.{c}' for c in columns)} "
        f"FROM counter CROSS JOIN (VALUES {rows}) AS v(position, {', '.join(columns)}) "
        f"RETURNING {_sql.column(ProvisioningEvent, 'id', using)}, "
        f"{_sql.column(ProvisioningEvent, 'number', using)}"
    )


class ProvisioningEvent(models.Model):
    """One change, numbered 1, 2, 3… per connection in commit order.

    Written in the same transaction as the change; outlives its connection (no
    database constraint) for the audit trail. Changes of the account itself (its
    verified domains) have no connection and no number.
    """

    connection = models.ForeignKey(
        Connection,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="events",
        db_index=False,
    )
    account = models.ForeignKey(
        get_account_model_label(),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    number = models.PositiveBigIntegerField(null=True, blank=True)
    type = models.CharField(max_length=40, choices=EventType.choices)
    #: "User", "Group", "Connection", "Token", "RoleMapping" or "Domain", and its id.
    resource_type = models.CharField(max_length=20)
    resource_id = models.CharField(max_length=64, blank=True)
    #: What changed: attribute -> {"old": …, "new": …}, or event-specific details.
    changes = models.JSONField(default=dict, blank=True)
    #: Who: {"type": "token", "prefix": …} for an IdP, {"type": "user", "id": …,
    #: "username": …} for a person, {"type": "system"} otherwise.
    actor = models.JSONField(default=dict)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ProvisioningEventManager()

    class Meta:
        ordering = ("connection_id", "number")
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "number"], name="scim_event_number_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "created_at"], name="scim_event_account_idx"),
            # The overview's users-and-groups chart: one connection's last 30 days.
            models.Index(fields=["connection", "created_at"], name="scim_event_conn_time_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.type} {self.resource_type} {self.resource_id}"

    @property
    def subject(self) -> str:
        """What the event is about, in words: a userName, a group, a token prefix…"""
        changes = self.changes if isinstance(self.changes, dict) else {}
        for key in ("userName", "displayName", "domain", "name"):
            if isinstance(changes.get(key), str):
                return changes[key]
        prefix = changes.get("prefix")
        return f"{prefix}…" if isinstance(prefix, str) else ""

    @property
    def change_lines(self) -> list[tuple[str, Any, Any]]:
        """``(field, old, new)`` of every ``{"old": …, "new": …}`` change it records, in
        the active language where the field and its values are the app's own words (a
        setting, a domain's status), as stored otherwise (SCIM attribute paths)."""
        changes = self.changes if isinstance(self.changes, dict) else {}
        return [
            (_field_name(field), _field_value(field, value.get("old")),
             _field_value(field, value.get("new")))
            for field, value in changes.items()
            if isinstance(value, dict) and set(value) == {"old", "new"}
        ]  # fmt: skip

    @property
    def actor_display(self) -> str:
        """Who made the change, in words, in the active language."""
        actor = self.actor if isinstance(self.actor, dict) else {}
        kind = actor.get("type")
        if kind == "token":
            how = actor.get("kind", "bearer")
            shown = (
                actor.get("prefix", "")
                if how in ("basic", "federated", "authorization")
                else (f"{actor.get('prefix', '')}…")
            )
            # Translators: who made a change: the identity provider, with its credential.
            return gettext("the identity provider (%(credential)s)") % {"credential": shown}
        if kind == "user":
            staff = "staff" if actor.get("staff") else "person"
            where = actor.get("via", "") if actor.get("via") in ("admin", "api") else ""
            return str(_PERSON_ACTORS[staff, where]) % {"username": actor.get("username", "?")}
        if kind == "environment_key":
            # Translators: who made a change: the vendor's API key of that name.
            return gettext("the environment key %(name)s") % {
                "name": actor.get("name") or actor.get("prefix", "")
            }
        if kind == "command":
            # Translators: who made a change: the management command of that name.
            return gettext("the command %(name)s") % {"name": actor.get("name", "")}
        # Translators: who made a change: the application itself.
        return gettext("the system")

    @property
    def resource_type_display(self) -> str:
        """What kind of thing the event is about, in the active language."""
        return str(_RESOURCE_TYPES.get(self.resource_type, self.resource_type))


#: Who made a change, by whether the person is vendor staff and where they were (the
#: portal: ""); ``%(username)s`` is their username.
_PERSON_ACTORS = {
    ("person", ""): _("%(username)s"),
    ("person", "admin"): _("%(username)s in Django admin"),
    ("person", "api"): _("%(username)s through the API"),
    ("staff", ""): _("%(username)s (vendor staff)"),
    ("staff", "admin"): _("%(username)s (vendor staff) in Django admin"),
    ("staff", "api"): _("%(username)s (vendor staff) through the API"),
}

#: What each kind of resource an event is about is called.
_RESOURCE_TYPES = {
    "User": _("User"),
    "Group": _("Group"),
    "Connection": _("Connection"),
    "Token": _("Token"),
    "Credential": _("Credential"),
    "RoleMapping": _("Role mapping"),
    "Domain": _("Domain"),
    # Translators: a person's account in the application (not in the directory).
    "HostUser": _("Member"),
}

#: The app's own fields an event records the change of (a connection's settings, a role
#: mapping, a domain), by the key it stores; any other key (a SCIM attribute path) is
#: shown as stored.
_FIELD_NAMES = {
    "name": _("name"),
    "default_role": _("default role"),
    "link_policy": _("link policy"),
    "deprovision_policy": _("deprovision policy"),
    "out_of_domain_policy": _("out of domain policy"),
    "access_token_lifetime": _("access token lifetime"),
    "silent_after_hours": _("silent after hours"),
    "brake_enabled": _("brake enabled"),
    "brake_percent": _("brake percent"),
    "brake_minimum": _("brake minimum"),
    "deleting_since": _("deleting since"),
    "role": _("role"),
    "precedence": _("precedence"),
    # Translators: a verified email domain's status.
    "status": _("status"),
}

#: The values of those fields that are the app's words, by field and stored value.
_FIELD_VALUES = {
    "status": {
        # Translators: a verified email domain's status.
        "not verified": _("not verified"),
        # Translators: a verified email domain's status.
        "verified": _("verified"),
        # Translators: a verified email domain's status.
        "removed": _("removed"),
    },
}


def _field_name(field: str) -> str:
    name = _FIELD_NAMES.get(field)
    return str(name) if name is not None else field.replace("_", " ")


def _field_value(field: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    shown = _FIELD_VALUES.get(field, {}).get(value)
    return str(shown) if shown is not None else value
