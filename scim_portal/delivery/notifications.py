"""Emails to people about conditions that need them: a credential about to expire, a
connection failing or gone silent, removals held by the brake, deliveries to a webhook
endpoint failing.

The sweep (``tasks.sweep``, every ``SWEEP_INTERVAL_SECONDS`` on the workers) calls
:func:`send_due`. It reads every condition in a handful of statements whatever the
number of connections, and tells each condition once: a condition has a key naming its
subject and when it began, and the :class:`~scim_portal.models.NotificationSent` row of
that key is inserted in the transaction that sends, so two workers sweeping at once
send it once, and a condition that clears and comes back (a new start) is told again.

Who is told: the people holding the read permission on the condition's account through
django-guardian (directly or through a group) — the delete permission for removals the
brake holds, since only they can decide them — active, with an email address, who have
not opted out of that kind for that account (:class:`~scim_portal.models.
NotificationOptOut`, set on the Provisioning tab's Notifications page). The vendor
(``settings.ADMINS``, through ``mail_admins``) is told of every failing endpoint.

In which language: the site's, ``settings.LANGUAGE_CODE``. The emails are written by a
background task, where no request says which language a reader prefers, and the app
keeps no language per person; so each is rendered inside
``translation.override(settings.LANGUAGE_CODE)``, whatever language the worker's thread
has active.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

from .. import permissions
from ..accounts import url_key
from ..conf import app_settings, get_account_model
from ..health import FAILING_STATUSES, health, with_last_status
from ..models import (
    Connection,
    Credential,
    EndpointState,
    NotificationKind,
    NotificationOptOut,
    NotificationSent,
    Removal,
    RemovalState,
    RequestLog,
    WebhookEndpoint,
)

logger = logging.getLogger("scim_portal.notifications")
audit = logging.getLogger("scim_portal.audit")

#: Templates of each kind: ``<prefix><kind>_subject.txt``, ``_message.txt`` and
#: ``_message.html`` (a host overrides any of them; docs/events.md lists their context).
TEMPLATE_PREFIX = "scim_portal/email/"
#: Deliveries failing for less than this are a blip the retries usually absorb: the
#: endpoint's people are told once it has failed this long.
DELIVERIES_FAILING_NOTICE_AFTER = timedelta(hours=1)
#: The smallest ``Connection.silent_after_hours`` allowed (its validator), for the
#: statement that picks the connections worth a look.
MIN_SILENT_HOURS = 1


@dataclass
class Condition:
    """Something to tell the readers of ``account`` (and the vendor when ``tell_vendor``)."""

    kind: str
    #: Names the subject and when the condition began (unique per kind).
    key: str
    account: Any
    context: dict[str, Any] = field(default_factory=dict)
    tell_vendor: bool = False
    #: Who of the account is told: the holders of this permission.
    permission: str = permissions.READ


def send_due() -> int:
    """Send the emails that are due; how many were sent."""
    now = timezone.now()
    conditions = [
        *_expiring_credentials(now),
        *_connection_conditions(now),
        *_held_removals(),
        *_failing_endpoints(now),
    ]
    conditions = _not_yet_told(conditions)
    if not conditions:
        return 0
    accounts = {c.account.pk: c.account for c in conditions if c.account is not None}
    holders = _holders_of(accounts)
    opted_out = set(
        NotificationOptOut.objects.filter(account_id__in=accounts).values_list(
            "user_id", "account_id", "kind"
        )
    )
    sent = 0
    with mail.get_connection() as connection:
        for condition in conditions:
            people = (
                []
                if condition.account is None
                else holders.get((condition.account.pk, condition.permission), [])
            )
            if condition.permission != permissions.READ and condition.account is not None:
                # Who may decide, and open the page to do it (the portal needs read too).
                readers = holders.get((condition.account.pk, permissions.READ), [])
                people = [person for person in people if person in readers]
            people = [
                person
                for person in people
                if (person.pk, condition.account.pk, condition.kind) not in opted_out
            ]
            sent += tell(condition, people, connection)
    return sent


def tell(condition: Condition, people: list[Any], connection: Any = None) -> int:
    """Email ``condition`` to ``people`` (and the vendor when it says so), unless it was
    told already; how many emails were sent.

    The ``NotificationSent`` row goes in first, in the transaction that sends: a second
    worker's insert of the same key waits for this one and fails, so it sends nothing;
    a failed send rolls the row back, so the next sweep tries again."""
    vendor = condition.tell_vendor and bool(settings.ADMINS)
    try:
        messages = [_message(condition, person) for person in people]
        with transaction.atomic():
            NotificationSent.objects.create(
                kind=condition.kind,
                key=condition.key,
                account=condition.account,
                recipients=len(messages) + int(vendor),
            )
            if messages:
                (connection or mail.get_connection()).send_messages(messages)
            if vendor:
                subject, text, html = _render(condition, None)
                mail.mail_admins(subject, text, html_message=html, connection=connection)
    except IntegrityError:
        return 0  # told already, by another worker
    except Exception:
        logger.exception("Could not send the %s notification %s", condition.kind, condition.key)
        return 0
    logger.info(
        "Told %s people of %s %s", len(messages) + int(vendor), condition.kind, condition.key
    )
    return len(messages) + int(vendor)


# The conditions


def _expiring_credentials(now: datetime) -> Iterator[Condition]:
    days = int(app_settings.CREDENTIAL_EXPIRY_NOTICE_DAYS)
    expiring = Credential.objects.filter(
        revoked_at__isnull=True,
        expires_at__gt=now,
        expires_at__lte=now + timedelta(days=days),
        connection__deleting_since__isnull=True,
    ).select_related("connection__account")
    for credential in expiring:
        connection = credential.connection
        assert credential.expires_at is not None
        yield Condition(
            NotificationKind.CREDENTIAL_EXPIRING,
            f"credential:{credential.pk}:{credential.expires_at.isoformat()}",
            connection.account,
            {
                "connection": connection,
                "credential": credential,
                "expires_at": credential.expires_at,
                "connection_url": _absolute(_portal_path(connection.account, connection)),
                "credentials_url": _absolute(
                    _portal_path(connection.account, connection, "tokens")
                ),
            },
        )


def _connection_conditions(now: datetime) -> Iterator[Condition]:
    """Failing and silent connections, from one statement that picks the connections
    that may be either (and their credentials, prefetched): what is Failing is what
    :func:`scim_portal.health.health` says, as the portal, admin and API show it."""
    usable = Credential.objects.filter(connection=OuterRef("pk")).usable(now)
    default_hours = int(app_settings.SILENT_CONNECTION_HOURS)
    may_fail = Q(has_credential=True) & (Q(has_usable=False) | Q(last_status__in=FAILING_STATUSES))
    may_be_silent = Q(
        silent_after_hours__isnull=True,
        last_request_at__lt=now - timedelta(hours=default_hours),
    ) | Q(
        silent_after_hours__isnull=False,
        last_request_at__lt=now - timedelta(hours=MIN_SILENT_HOURS),
    )
    last_accepted = (
        RequestLog.objects.filter(connection=OuterRef("pk"))
        .exclude(status__in=FAILING_STATUSES)
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )
    candidates = (
        with_last_status(Connection.objects.filter(deleting_since__isnull=True))
        .alias(
            has_credential=Exists(Credential.objects.filter(connection=OuterRef("pk"))),
            has_usable=Exists(usable),
        )
        .filter(may_fail | may_be_silent)
        .annotate(last_accepted_at=Subquery(last_accepted))
        .select_related("account")
        .prefetch_related("credentials")
        .order_by()
    )
    for connection in candidates:
        state = health(connection)
        if state.key == "failing":
            yield _failing(connection)
        hours = connection.silent_after_hours or default_hours
        last = connection.last_request_at
        if last is not None and now - last > timedelta(hours=hours):
            yield Condition(
                NotificationKind.CONNECTION_SILENT,
                f"connection:{connection.pk}:silent:{last.isoformat()}",
                connection.account,
                {
                    "connection": connection,
                    "last_request_at": last,
                    "silent_after_hours": hours,
                    "connection_url": _absolute(_portal_path(connection.account, connection)),
                },
            )


def _failing(connection: Connection) -> Condition:
    """A Failing connection, keyed by what began it: its last usable credential ending,
    or the refusals after its last accepted request."""
    credentials = list(connection.credentials.all())
    if not any(credential.is_usable for credential in credentials):
        ends = [_end_of(credential) for credential in credentials]
        began = max(end for end in ends if end is not None)
        key = f"connection:{connection.pk}:no-credential:{began.isoformat()}"
    else:
        accepted = getattr(connection, "last_accepted_at", None)
        key = f"connection:{connection.pk}:refused:{accepted.isoformat() if accepted else 'never'}"
    return Condition(
        NotificationKind.CONNECTION_FAILING,
        key,
        connection.account,
        {
            "connection": connection,
            "connection_url": _absolute(_portal_path(connection.account, connection)),
            "logs_url": _absolute(_portal_path(connection.account, connection, "logs")),
        },
    )


def _end_of(credential: Credential) -> datetime | None:
    """When a credential stopped being usable (revoked or expired, whichever first)."""
    ends = [moment for moment in (credential.revoked_at, credential.expires_at) if moment]
    return min(ends) if ends else None


def _held_removals() -> Iterator[Condition]:
    """Connections whose brake holds removals, from one statement: told to the people
    who may decide them, once per hold episode. An episode begins with the first removal
    held (the key); it goes on while removals stay held, even when some of the first
    are decided meanwhile, so a removal held before the last email of the connection
    does not start a new one (one more statement, only when something is held)."""
    held = Removal.objects.filter(connection=OuterRef("pk"), state=RemovalState.HELD)
    first = held.order_by("at", "pk")
    count = held.order_by().values("connection").annotate(n=Count("*")).values("n")
    candidates = list(
        Connection.objects.filter(deleting_since__isnull=True)
        .annotate(first_held_at=Subquery(first.values("at")[:1]))
        .filter(first_held_at__isnull=False)
        .annotate(
            held_reason=Subquery(first.values("reason")[:1]),
            held_count=Subquery(count, output_field=IntegerField()),
        )
        .select_related("account")
        .order_by()
    )
    if not candidates:
        return
    told = NotificationSent.objects.filter(
        kind=NotificationKind.REMOVALS_HELD,
        created_at__gte=min(connection.first_held_at for connection in candidates),
    ).values_list("key", "created_at")
    last_told: dict[str, datetime] = {}
    for key, at in told:
        prefix = key.rsplit(":held:", 1)[0]
        last_told[prefix] = max(at, last_told.get(prefix, at))
    for connection in candidates:
        prefix = f"connection:{connection.pk}"
        if last_told.get(prefix, connection.first_held_at) > connection.first_held_at:
            continue  # told during this episode already
        yield Condition(
            NotificationKind.REMOVALS_HELD,
            f"{prefix}:held:{connection.first_held_at.isoformat()}",
            connection.account,
            {
                "connection": connection,
                "held_count": connection.held_count,
                "first_held_at": connection.first_held_at,
                "reason": connection.held_reason,
                "held_url": _absolute(_portal_path(connection.account, connection, "held")),
            },
            permission=permissions.DELETE,
        )


def _failing_endpoints(now: datetime) -> Iterator[Condition]:
    failing = WebhookEndpoint.objects.filter(
        failing_since__lte=now - DELIVERIES_FAILING_NOTICE_AFTER,
        state__in=[EndpointState.ENABLED, EndpointState.DISABLED],
    ).select_related("account")
    for endpoint in failing:
        assert endpoint.failing_since is not None
        disabled = endpoint.state == EndpointState.DISABLED
        what = "disabled" if disabled else "failing"
        yield Condition(
            NotificationKind.DELIVERIES_FAILING,
            f"endpoint:{endpoint.pk}:{what}:{endpoint.failing_since.isoformat()}",
            endpoint.account,
            {
                "endpoint": endpoint,
                # The URL may carry a secret (many receivers put one in the path): its
                # host only.
                "endpoint_name": endpoint.description or urlsplit(endpoint.url).hostname or "",
                "failing_since": endpoint.failing_since,
                "disabled": disabled,
            },
            tell_vendor=True,
        )


def _not_yet_told(conditions: list[Condition]) -> list[Condition]:
    if not conditions:
        return []
    told = set(
        NotificationSent.objects.filter(key__in={c.key for c in conditions}).values_list(
            "kind", "key"
        )
    )
    return [c for c in conditions if (c.kind, c.key) not in told]


# Who is told


#: The permissions whose holders are told something.
TOLD = (permissions.READ, permissions.DELETE)


def _holders_of(accounts: dict[Any, Any]) -> dict[tuple[Any, str], list[Any]]:
    """The active people with an email address who hold the read, or the delete,
    permission on each of ``accounts`` (by primary key) as a guardian object
    permission, directly or through a group, by ``(account pk, codename)``: three
    statements for any number of accounts."""
    if not accounts:
        return {}
    model = get_account_model()
    content_type = ContentType.objects.get_for_model(model)
    holders: dict[Any, set[tuple[Any, str]]] = defaultdict(set)
    for user_id, account_id, codename in _holders(
        get_user_obj_perms_model(model), "user", content_type, accounts
    ):
        holders[user_id].add((account_id, codename))
    for user_id, account_id, codename in _holders(
        get_group_obj_perms_model(model), "group__user", content_type, accounts
    ):
        holders[user_id].add((account_id, codename))
    found: dict[tuple[Any, str], list[Any]] = defaultdict(list)
    people = get_user_model()._default_manager.filter(pk__in=holders, is_active=True)
    for person in people.exclude(email="").order_by("pk"):
        for held in sorted(holders[person.pk], key=str):
            found[held].append(person)
    return found


def _holders(
    model: Any, user: str, content_type: ContentType, accounts: dict[Any, Any]
) -> Iterable[tuple[Any, Any, str]]:
    """``(user id, account pk, codename)`` of ``model``'s permissions of :data:`TOLD` on
    ``accounts``."""
    rows = model.objects.filter(
        permission__content_type=content_type, permission__codename__in=TOLD
    )
    if model.objects.is_generic():
        by_text = {str(pk): pk for pk in accounts}
        found = rows.filter(content_type=content_type, object_pk__in=list(by_text))
        for user_id, object_pk, codename in found.values_list(
            user, "object_pk", "permission__codename"
        ):
            if user_id is not None:
                yield user_id, by_text[object_pk], codename
    else:
        found = rows.filter(content_object__in=list(accounts))
        yield from (
            (user_id, pk, codename)
            for user_id, pk, codename in found.values_list(
                user, "content_object", "permission__codename"
            )
            if user_id is not None
        )


# Opt-outs


def opted_out_kinds(user: Any, account: Any) -> set[str]:
    """The kinds of email ``user`` does not want about ``account``."""
    return set(
        NotificationOptOut.objects.filter(user=user, account=account).values_list("kind", flat=True)
    )


@transaction.atomic
def set_opt_outs(user: Any, account: Any, kinds: Iterable[str]) -> bool:
    """Make ``kinds`` the kinds of email ``user`` does not want about ``account``
    (the others are sent again); whether anything changed. Audited."""
    wanted = set(kinds)
    unknown = wanted - set(NotificationKind.values)
    if unknown:
        raise ValueError(f"Unknown notification kinds: {', '.join(sorted(unknown))}.")
    rows = NotificationOptOut.objects.filter(user=user, account=account)
    current = set(rows.values_list("kind", flat=True))
    if current == wanted:
        return False
    rows.exclude(kind__in=wanted).delete()
    NotificationOptOut.objects.bulk_create(
        [NotificationOptOut(user=user, account=account, kind=kind) for kind in wanted - current],
        ignore_conflicts=True,
    )
    audit.info(
        "Notifications of account %s for %s: opted out of %s (was %s)",
        url_key(account), user, ", ".join(sorted(wanted)) or "nothing",
        ", ".join(sorted(current)) or "nothing",
    )  # fmt: skip
    return True


# The emails


def _portal_path(account: Any, connection: Connection | None = None, page: str = "") -> str:
    if connection is None:
        return reverse("scim_portal:portal:notifications", args=[url_key(account)])
    name = page or "connection-detail"
    return reverse(f"scim_portal:portal:{name}", args=[url_key(account), connection.pk])


def _absolute(path: str) -> str:
    return (app_settings.PUBLIC_URL or "").rstrip("/") + path


def _render(condition: Condition, person: Any) -> tuple[str, str, str]:
    """Subject, text and HTML of ``condition`` for ``person`` (None: the vendor), in the
    site's language (``settings.LANGUAGE_CODE``)."""
    with translation.override(settings.LANGUAGE_CODE):
        return _render_in_active_language(condition, person)


def _render_in_active_language(condition: Condition, person: Any) -> tuple[str, str, str]:
    context = {
        **condition.context,
        "kind": condition.kind,
        "kind_label": NotificationKind(condition.kind).label,
        "account": condition.account,
        "recipient": person,
        "for_vendor": person is None,
        "for_deciders": condition.permission == permissions.DELETE,
        "site_url": app_settings.PUBLIC_URL or "",
        "settings_url": (
            _absolute(_portal_path(condition.account))
            if person is not None and condition.account is not None
            else ""
        ),
    }
    if condition.kind == NotificationKind.CONNECTION_FAILING:
        # Decided here, so that its label and explanation are in the email's language.
        context["health"] = health(condition.context["connection"])
    base = f"{TEMPLATE_PREFIX}{condition.kind}"
    subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
    text = render_to_string(f"{base}_message.txt", context)
    html = render_to_string(f"{base}_message.html", context)
    return subject, text, html


def _message(condition: Condition, person: Any) -> mail.EmailMultiAlternatives:
    subject, text, html = _render(condition, person)
    sender = app_settings.NOTIFICATION_FROM_EMAIL or settings.DEFAULT_FROM_EMAIL
    message = mail.EmailMultiAlternatives(subject, text, sender, [person.email])
    message.attach_alternative(html, "text/html")
    return message
