"""Provisioning events: what changed in a connection's directory, in order."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from ..conf import get_account_model_label
from .connections import Connection


class EventType(models.TextChoices):
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    USER_DELETED = "user.deleted"
    GROUP_CREATED = "group.created"
    GROUP_UPDATED = "group.updated"
    GROUP_DELETED = "group.deleted"
    GROUP_MEMBERS_ADDED = "group.members_added"
    GROUP_MEMBERS_REMOVED = "group.members_removed"
    ROLES_CHANGED = "roles.changed"
    CONNECTION_CREATED = "connection.created"
    CONNECTION_DELETED = "connection.deleted"
    TOKEN_ISSUED = "token.issued"  # noqa: S105  (an event name)
    TOKEN_REVOKED = "token.revoked"  # noqa: S105
    CREDENTIAL_ISSUED = "credential.issued"
    CREDENTIAL_REVOKED = "credential.revoked"
    USER_LINKED = "user.linked"
    CONNECTION_UPDATED = "connection.updated"
    ROLE_MAPPING_SET = "role_mapping.set"
    ROLE_MAPPING_REMOVED = "role_mapping.removed"
    DOMAIN_ADDED = "domain.added"
    DOMAIN_VERIFIED = "domain.verified"
    DOMAIN_REMOVED = "domain.removed"


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

    class Meta:
        ordering = ("connection_id", "number")
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "number"], name="scim_event_number_unique"
            ),
        ]
        indexes = [models.Index(fields=["account", "created_at"], name="scim_event_account_idx")]

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
        """``(field, old, new)`` of every ``{"old": …, "new": …}`` change it records."""
        changes = self.changes if isinstance(self.changes, dict) else {}
        return [
            (field.replace("_", " "), value.get("old"), value.get("new"))
            for field, value in changes.items()
            if isinstance(value, dict) and set(value) == {"old", "new"}
        ]

    @property
    def actor_display(self) -> str:
        """Who made the change, in words."""
        actor = self.actor if isinstance(self.actor, dict) else {}
        kind = actor.get("type")
        if kind == "token":
            how = actor.get("kind", "bearer")
            shown = (
                actor.get("prefix", "")
                if how in ("basic", "federated", "authorization")
                else (f"{actor.get('prefix', '')}…")
            )
            return f"the identity provider ({shown})"
        if kind == "user":
            where = {"admin": " in Django admin", "api": " through the API"}
            staff = " (vendor staff)" if actor.get("staff") else ""
            return f"{actor.get('username', '?')}{staff}{where.get(actor.get('via', ''), '')}"
        if kind == "environment_key":
            return f"the environment key {actor.get('name') or actor.get('prefix', '')}"
        if kind == "command":
            return f"the command {actor.get('name', '')}"
        return "the system"
