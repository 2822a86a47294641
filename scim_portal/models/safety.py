"""Safe deprovisioning: every removal the directory records, the ones the brake holds,
and deleted users kept restorable for a while (docs/provisioning.md, "Safe
deprovisioning")."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .connections import Connection


class RemovalKind(models.TextChoices):
    DEACTIVATE = "deactivate", _("Deactivation")
    DELETE = "delete", _("Deletion")


class RemovalState(models.TextChoices):
    #: The host effects happened at once (the brake was not engaged).
    APPLIED = "applied", _("Applied")
    #: The brake held the host effects; a tenant admin decides.
    HELD = "held", _("Held")
    APPROVED = "approved", _("Approved")
    #: The person stays active in the host, diverging from the directory.
    REJECTED = "rejected", _("Rejected")
    #: The identity provider changed its mind (reactivated the user) before anyone decided.
    SUPERSEDED = "superseded", _("Superseded")


class Removal(models.Model):
    """A deactivation or deletion the identity provider asked for, and what became of
    its effects in the host. The rolling-hour count of the brake reads these rows."""

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="removals", db_index=False
    )
    #: The directory user's SCIM id (the row itself may be gone: deleted).
    user_id = models.UUIDField()
    user_name = models.CharField(max_length=255)
    kind = models.CharField(max_length=10, choices=RemovalKind.choices)
    state = models.CharField(max_length=10, choices=RemovalState.choices)
    #: Whether it counts toward the brake's threshold (deleting a user who was already
    #: deactivated removes nobody new).
    counted = models.BooleanField(default=True)
    at = models.DateTimeField(default=timezone.now)
    #: Why the brake held it, as shown to the tenant admin.
    reason = models.CharField(max_length=300, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    #: Ids (text) of the directory groups the person left while the removal waited: the
    #: adapter's ``members_removed`` for them waits with it.
    groups_left = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ("at", "id")
        constraints = [
            # One pending decision per person: a deletion after a held deactivation
            # becomes that decision's kind.
            models.UniqueConstraint(
                fields=["connection", "user_id"],
                condition=Q(state="held"),
                name="scim_removal_one_held",
            ),
        ]
        indexes = [
            models.Index(fields=["connection", "at"], name="scim_removal_at_idx"),
            models.Index(fields=["connection", "state", "user_id"], name="scim_removal_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.user_name} ({self.state})"


class DeletedUser(models.Model):
    """A directory user the identity provider deleted, kept restorable until
    ``purge_after``: its row as it was, and the groups it was in. The IdP sees it as
    deleted (404) throughout; ``scim_portal prune`` purges it after the grace period."""

    #: The deleted directory user's SCIM id (restored under the same id).
    id = models.UUIDField(primary_key=True, editable=False)
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="deleted_users", db_index=False
    )
    user_name = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=254, blank=True)
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    active = models.BooleanField(null=True)
    attributes = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField()
    version = models.PositiveBigIntegerField(default=1)
    host_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    host_link = models.CharField(max_length=10, blank=True)
    role = models.CharField(max_length=100, blank=True)
    #: Ids (text) of the directory groups it was a member of, with their member display.
    groups = models.JSONField(default=list, blank=True)
    deleted_at = models.DateTimeField(default=timezone.now)
    purge_after = models.DateTimeField()

    class Meta:
        ordering = ("-deleted_at", "id")
        indexes = [
            models.Index(fields=["connection", "deleted_at"], name="scim_deleted_at_idx"),
            models.Index(fields=["purge_after"], name="scim_deleted_purge_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_name} (deleted)"
