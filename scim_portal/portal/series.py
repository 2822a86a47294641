"""What the connection overview's charts show, read in one aggregate query each.

Requests come from the request log, counted per hour (UTC) and outcome. Users and groups
over time are derived, not stored: today's live counts walked back day by day with each
day's net change from the provisioning events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncDate, TruncHour

from ..conf import app_settings
from ..models import Connection, EventType, ProvisioningEvent, RequestLog
from ..models.logs import OUTCOMES

HOURS = 7 * 24
DAYS = 30


#: Events that add a directory user or group, and those that remove one. A purged copy
#: of a deleted user (``prune``) was no directory user any more: it changes nothing.
USER_ADDED = (EventType.USER_CREATED, EventType.USER_RESTORED, EventType.USER_ADOPTED)
USER_REMOVED = (EventType.USER_DELETED,)
GROUP_ADDED = (EventType.GROUP_CREATED,)
GROUP_REMOVED = (EventType.GROUP_DELETED,)


@dataclass
class HourBucket:
    start: datetime
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class RequestSeries:
    """Requests of the last 168 hours, oldest first, one bucket per hour (UTC)."""

    hours: list[HourBucket]
    #: The first hour whose requests are all kept, when ``REQUEST_LOG_RETENTION_DAYS`` is
    #: shorter than the window: the hours before it count zero because they were pruned.
    kept_from: datetime | None = None

    @property
    def totals(self) -> dict[str, int]:
        return {
            outcome: sum(bucket.counts[outcome] for bucket in self.hours) for outcome in OUTCOMES
        }

    @property
    def total(self) -> int:
        return sum(self.totals.values())


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def request_series(connection: Any, now: datetime) -> RequestSeries:
    """The connection's requests per hour and outcome over the last 7 days (one query);
    hours without requests count zero, and so do hours already pruned (``kept_from``)."""
    first = _hour(now) - timedelta(hours=HOURS - 1)
    # The first hour that starts at or after the pruning cutoff (the one before may be
    # partly pruned).
    cutoff = now - timedelta(days=app_settings.REQUEST_LOG_RETENTION_DAYS)
    kept_from = _hour(cutoff) if cutoff == _hour(cutoff) else _hour(cutoff) + timedelta(hours=1)
    rows = (
        RequestLog.objects.filter(connection=connection, created_at__gte=first)
        .order_by()
        .values(hour=TruncHour("created_at", tzinfo=UTC))
        .annotate(**{outcome: Count("pk", filter=rule) for outcome, rule in OUTCOMES.items()})
    )
    found: dict[datetime, Any] = {_hour(row["hour"]): row for row in rows}
    hours = []
    for offset in range(HOURS):
        start = first + timedelta(hours=offset)
        row = found.get(start, {})
        hours.append(HourBucket(start, {outcome: row.get(outcome, 0) for outcome in OUTCOMES}))
    return RequestSeries(hours, kept_from if kept_from > first else None)


@dataclass
class DayPoint:
    day: date
    users: int
    groups: int


@dataclass
class DirectorySeries:
    """Users and groups at the end of each day (today: now), oldest first."""

    days: list[DayPoint] = field(default_factory=list)
    #: The series starts later than the window because older events are no longer kept.
    cut_by_retention: bool = False


def directory_series(
    connection: Any, now: datetime, users_now: int, groups_now: int
) -> DirectorySeries:
    """The connection's users and groups over the last 30 days (one query), derived from
    today's counts and each later day's net change. It starts on the day the connection
    was created, or on the first day whose later events are all kept
    (``EVENT_RETENTION_DAYS``), if later than 30 days ago."""
    today = now.astimezone(UTC).date()
    window = today - timedelta(days=DAYS - 1)
    created = connection.created_at.astimezone(UTC).date()
    kept_since = (now - timedelta(days=app_settings.EVENT_RETENTION_DAYS)).astimezone(UTC).date()
    first = max(window, created, kept_since)
    start = datetime.combine(first + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    rows = (
        ProvisioningEvent.objects.filter(
            connection=connection,
            created_at__gte=start,
            type__in=[*USER_ADDED, *USER_REMOVED, *GROUP_ADDED, *GROUP_REMOVED],
        )
        .order_by()
        .values(day=TruncDate("created_at", tzinfo=UTC))
        .annotate(
            users=Count("pk", filter=Q(type__in=USER_ADDED))
            - Count("pk", filter=Q(type__in=USER_REMOVED)),
            groups=Count("pk", filter=Q(type__in=GROUP_ADDED))
            - Count("pk", filter=Q(type__in=GROUP_REMOVED)),
        )
    )
    net = {_as_date(row["day"]): (row["users"], row["groups"]) for row in rows}
    points = []
    users, groups = users_now, groups_now
    day = today
    while day >= first:
        points.append(DayPoint(day, users, groups))
        users_change, groups_change = net.get(day, (0, 0))
        users, groups = users - users_change, groups - groups_change
        day -= timedelta(days=1)
    points.reverse()
    return DirectorySeries(points, cut_by_retention=kept_since > max(window, created))


def _as_date(value: Any) -> date:
    # SQLite hands TruncDate back as text on some versions; PostgreSQL as a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


#: Events of a directory user or group the identity provider writes.
DIRECTORY_CHANGES = (
    EventType.USER_CREATED,
    EventType.USER_UPDATED,
    EventType.USER_DEACTIVATED,
    EventType.USER_REACTIVATED,
    EventType.USER_DELETED,
    EventType.GROUP_CREATED,
    EventType.GROUP_UPDATED,
    EventType.GROUP_DELETED,
    EventType.GROUP_MEMBERS_ADDED,
    EventType.GROUP_MEMBERS_REMOVED,
)
#: A first sync is one whose first directory change is at most this old…
FIRST_SYNC_HOURS = 24
#: …and whose last one is at most this old: past it, the sync is quiet.
SYNC_QUIET_SECONDS = 120


def with_directory_changes(connections: QuerySet[Connection]) -> QuerySet[Connection]:
    """Annotate ``first_change_at`` and ``last_change_at``: the times of the connection's
    first and last directory change (subqueries along the events' number index, in the
    connection's own query)."""
    changes = ProvisioningEvent.objects.filter(
        connection=OuterRef("pk"), type__in=DIRECTORY_CHANGES
    ).values("created_at")
    return connections.annotate(
        first_change_at=Subquery(changes.order_by("number")[:1]),
        last_change_at=Subquery(changes.order_by("-number")[:1]),
    )


def is_first_sync(connection: Any, now: datetime) -> bool:
    """Whether an identity provider is pushing the connection's directory for the first
    time: its first directory change is less than ``FIRST_SYNC_HOURS`` old and its last
    one less than ``SYNC_QUIET_SECONDS``, on a connection younger than the events kept
    (annotate :func:`with_directory_changes`)."""
    first = getattr(connection, "first_change_at", None)
    last = getattr(connection, "last_change_at", None)
    if first is None or last is None:
        return False
    if connection.created_at < now - timedelta(days=app_settings.EVENT_RETENTION_DAYS):
        return False  # its first changes may be pruned: the oldest kept is not the first
    return now - first < timedelta(hours=FIRST_SYNC_HOURS) and now - last < timedelta(
        seconds=SYNC_QUIET_SECONDS
    )
