"""SCIM connections of an account."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connections, models, router
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .._uuid import uuid7
from ..conf import app_settings, get_account_model_label
from ..providers import Provider, get_provider, provider_choices
from . import _sql


def count_per_connection(rows: models.QuerySet[Any]) -> Coalesce:
    """The number of ``rows`` (a queryset of a model with a ``connection``) of the
    connection of the outer query's row, 0 for none: a subquery to annotate with (one
    query, no row multiplication)."""
    counted = (
        rows.filter(connection=OuterRef("pk"))
        .order_by()
        .values("connection")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=models.IntegerField()), 0)


class ConnectionQuerySet(models.QuerySet["Connection"]):
    def with_counts(self) -> ConnectionQuerySet:
        """Annotate ``user_count`` and ``group_count`` (one query, no row multiplication)."""
        from .directory import DirectoryGroup, DirectoryUser

        return self.annotate(
            user_count=count_per_connection(DirectoryUser.objects.all()),
            group_count=count_per_connection(DirectoryGroup.objects.all()),
        )

    def with_held_count(self) -> ConnectionQuerySet:
        """Annotate ``held_count``: the removals the brake holds for review (a subquery on
        the removals' state index, no extra query)."""
        from .safety import Removal, RemovalState

        return self.annotate(
            held_count=count_per_connection(Removal.objects.filter(state=RemovalState.HELD))
        )


class ConnectionManager(models.Manager.from_queryset(ConnectionQuerySet)):  # type: ignore[misc]
    def reserve_event_numbers(self, connection: Connection, count: int) -> int:
        """Add ``count`` to ``connection``'s event counter and return the new value.

        One statement, ``UPDATE … RETURNING`` (PostgreSQL and SQLite both have it), that
        also locks the row until the transaction ends; the ORM needs two, as ``update()``
        cannot return the value (docs/benchmarks.md: ~0.7 ms saved on every change).
        """
        using = router.db_for_write(self.model, instance=connection)
        database = connections[using]
        pk = self.model._meta.pk
        assert pk is not None
        with database.cursor() as cursor:
            cursor.execute(
                _reserve_sql(using), [count, pk.get_db_prep_value(connection.pk, database)]
            )
            row = cursor.fetchone()
        if row is None:
            raise self.model.DoesNotExist(f"No connection {connection.pk} to number events in.")
        return int(row[0])


@cache
def _reserve_sql(using: str) -> str:
    table = _sql.table(Connection, using)
    pk, counter = (
        _sql.column(Connection, "id", using),
        _sql.column(Connection, "last_event_number", using),
    )
    return f"UPDATE {table} SET {counter} = {counter} + %s WHERE {pk} = %s RETURNING {counter}"  # noqa: S608


#: Seconds an access token may live, as a connection chooses (Entra asks for 60 minutes to
#: 6 hours), and the default.
MIN_ACCESS_TOKEN_LIFETIME = 300
MAX_ACCESS_TOKEN_LIFETIME = 6 * 3600
DEFAULT_ACCESS_TOKEN_LIFETIME = 3600


class LinkPolicy(models.TextChoices):
    """What becomes of a new directory user in the host application."""

    VERIFIED_EMAIL = (
        "verified_email",
        _("Claim the existing user on a verified domain, else create"),
    )
    ALWAYS_CREATE = "always_create", _("Create a new user; never claim an existing one")
    NEVER = "never", _("Do not create or link users (directory only)")


class DeprovisionPolicy(models.TextChoices):
    """What deleting a directory user does to its membership of the account."""

    DEACTIVATE = "deactivate", _("Deactivate the membership and keep it")
    REMOVE = "remove", _("Remove the membership")


class EmailDomainPolicy(models.TextChoices):
    """What happens to a user whose email is outside the account's verified domains."""

    ACCEPT = "accept", _("Accept")
    FLAG = "flag", _("Accept, and flag it in the request log and user list")
    REJECT = "reject", _("Reject it (the identity provider gets an error)")


#: Connection fields only their services write: a plain ``save()`` leaves them alone.
SERVICE_FIELDS = frozenset({"last_event_number", "deleting_since"})


class Connection(models.Model):
    """One SCIM 2.0 connection: an identity provider provisioning into one account."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    account = models.ForeignKey(
        get_account_model_label(), on_delete=models.CASCADE, related_name="scim_connections"
    )
    name = models.CharField(max_length=200)
    provider = models.CharField(max_length=32, choices=provider_choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_request_at = models.DateTimeField(null=True, blank=True, editable=False)
    link_policy = models.CharField(
        max_length=20, choices=LinkPolicy.choices, default=LinkPolicy.VERIFIED_EMAIL
    )
    deprovision_policy = models.CharField(
        max_length=20, choices=DeprovisionPolicy.choices, default=DeprovisionPolicy.DEACTIVATE
    )
    out_of_domain_policy = models.CharField(
        max_length=10, choices=EmailDomainPolicy.choices, default=EmailDomainPolicy.FLAG
    )
    #: Role (a key the host's memberships hook lists) of users no mapped group gives one.
    default_role = models.CharField(max_length=100, blank=True)
    #: Number of the last provisioning event; events are numbered 1, 2, 3… per connection.
    last_event_number = models.PositiveBigIntegerField(default=0, editable=False)
    #: The connection's OAuth client id (client credentials and federated issuers),
    #: given when its first such credential is issued.
    oauth_client_id = models.CharField(
        max_length=40, unique=True, null=True, blank=True, editable=False
    )
    #: Seconds an access token from the token endpoint lives.
    access_token_lifetime = models.PositiveIntegerField(
        default=DEFAULT_ACCESS_TOKEN_LIFETIME,
        validators=[
            MinValueValidator(MIN_ACCESS_TOKEN_LIFETIME),
            MaxValueValidator(MAX_ACCESS_TOKEN_LIFETIME),
        ],
        help_text=_("Seconds an OAuth access token lives: 300 (5 minutes) to 21600 (6 hours)."),
    )

    #: The service provider whose directory it was filled from by an import
    #: ("django-scim2"), "" for none: an account's directory is imported once.
    imported_from = models.CharField(max_length=40, blank=True, editable=False)
    #: When its deletion began (credentials revoked first, then the directory in committed
    #: steps): from then on it takes no credential, and deleting it again finishes it.
    deleting_since = models.DateTimeField(null=True, blank=True, editable=False)
    #: Hours without a request from the IdP after which its readers are told it went
    #: silent (None: the ``SILENT_CONNECTION_HOURS`` setting).
    silent_after_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 90)],
        help_text=_(
            "Hours without a request before readers are told it went silent "
            "(empty: the site's default)."
        ),
    )

    #: The brake on mass removals: past ``brake_percent`` of the active users and at least
    #: ``brake_minimum`` people deactivated or deleted within an hour, the host effects of
    #: further removals wait for a tenant admin (docs/provisioning.md).
    brake_enabled = models.BooleanField(
        default=True, help_text=_("Hold mass removals for review before they reach the app.")
    )
    brake_percent = models.PositiveSmallIntegerField(
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Percent of the active users removed within an hour past which removals wait."),
    )
    brake_minimum = models.PositiveIntegerField(
        default=25,
        validators=[MinValueValidator(1)],
        help_text=_("Fewest removals within an hour that can engage the brake."),
    )

    objects = ConnectionManager()

    class Meta:
        # Ordering by a foreign key would join the account table into every query.
        ordering = ("created_at",)
        indexes = [models.Index(fields=["account", "created_at"], name="scim_conn_account_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider_info.name})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save; an existing row's event counter and deletion mark are left alone unless
        ``update_fields`` names them. Only their services write them (the event writers,
        :meth:`ConnectionManager.reserve_event_numbers` and
        ``ProvisioningEvent.objects.create_numbered``; ``delete_connection``): a ``save()``
        from an instance loaded before the last change would move the counter back (every
        later write of the connection would collide with an event number already taken) or
        clear the mark of a deletion under way (and let it take credentials again). A copy
        (``pk = None``) is inserted whole, as Django inserts any model's."""
        if (
            not self._state.adding
            and self.pk is not None
            and kwargs.get("update_fields") is None
            and not kwargs.get("force_insert")
            and not args
        ):
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name not in SERVICE_FIELDS
            ]
        super().save(*args, **kwargs)

    @property
    def provider_info(self) -> Provider:
        return get_provider(self.provider)

    def scim_path(self) -> str:
        """Absolute path of the SCIM base URL, without a trailing slash."""
        return reverse("scim_portal:scim-root", kwargs={"connection_id": self.id}).rstrip("/")

    def scim_url(self, base_url: str | None = None) -> str:
        """The SCIM base URL to give the identity provider.

        ``base_url`` is the scheme and host (``request.build_absolute_uri("/")``
        in a view); without it ``SCIM_PORTAL["PUBLIC_URL"]`` is used, and
        without that the URL is relative.
        """
        base = base_url if base_url is not None else (app_settings.PUBLIC_URL or "")
        return base.rstrip("/") + self.scim_path()

    def setup_url(self, base_url: str | None = None) -> str:
        """Exactly what the identity provider's admin pastes: :meth:`scim_url` with the
        provider's suffix (Entra ID's ``?aadOptscim062020``), else :meth:`scim_url` itself."""
        return self.scim_url(base_url) + self.provider_info.url_suffix

    @staticmethod
    def token_endpoint(base_url: str | None = None) -> str:
        """The OAuth token endpoint's URL (the same for every connection), built like
        :meth:`scim_url`."""
        base = base_url if base_url is not None else (app_settings.PUBLIC_URL or "")
        return base.rstrip("/") + reverse("scim_portal:oauth-token")
