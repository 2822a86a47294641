"""The SQL twin of a connection's status (``with_health``) agrees with ``health()`` on
every state and at every boundary, so the dashboard's counts and the admin's health
filter say what the portal, admin and API show for each connection."""

from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from scim_portal.health import EXPIRY_WARNING, UNUSED_AFTER, health, with_health, with_last_status
from scim_portal.models import Connection, Credential, RequestLog
from tests.factories import ConnectionFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

#: Not on a whole second: the boundaries below are a microsecond either side of it.
NOW = timezone.now().replace(microsecond=500_000)
TICK = timedelta(microseconds=1)
RECENT = NOW - timedelta(minutes=1)
LASTING = None  # a credential that never expires
REVOKED = "revoked"

# name: (credentials (each an expiry, None or REVOKED), last request at, statuses oldest
# first, the expected key)
CASES = {
    "no credential": ([], RECENT, [200], "waiting"),
    "no credential, refused": ([], RECENT, [401], "waiting"),
    "no credential, never called": ([], None, [], "waiting"),
    "only a revoked credential": ([REVOKED], RECENT, [200], "failing"),
    "expired a moment ago": ([NOW - TICK], RECENT, [200], "failing"),
    "expires exactly now": ([NOW], RECENT, [200], "failing"),
    "expires a moment from now": ([NOW + TICK], RECENT, [200], "expiring"),
    "revoked and expired beside a usable one": ([REVOKED, NOW - TICK, LASTING], RECENT, [200],
                                                "healthy"),
    "latest request 401": ([LASTING], RECENT, [200, 401], "failing"),
    "latest request 403": ([LASTING], RECENT, [403], "failing"),
    "latest request 500": ([LASTING], RECENT, [500], "failing"),
    "latest request 502": ([LASTING], RECENT, [502], "failing"),
    "latest request 599": ([LASTING], RECENT, [599], "failing"),
    "latest request 400": ([LASTING], RECENT, [400], "healthy"),
    "latest request 404": ([LASTING], RECENT, [404], "healthy"),
    "latest request 429": ([LASTING], RECENT, [429], "healthy"),
    "latest request 499": ([LASTING], RECENT, [499], "healthy"),
    "a refusal before a success": ([LASTING], RECENT, [401, 200], "healthy"),
    "refused and never accepted": ([LASTING], None, [401], "failing"),
    "never called": ([LASTING], None, [], "waiting"),
    "never called, expiring": ([NOW + timedelta(days=1)], None, [], "waiting"),
    "expires in the warning less a moment": ([NOW + EXPIRY_WARNING - TICK], RECENT, [200],
                                             "expiring"),
    "expires exactly at the warning": ([NOW + EXPIRY_WARNING], RECENT, [200], "healthy"),
    "every usable one expiring": ([NOW + timedelta(days=2), NOW + timedelta(days=9)], RECENT,
                                  [200], "expiring"),
    "one expiring, one lasting": ([NOW + timedelta(days=2), LASTING], RECENT, [200], "healthy"),
    "a revoked lasting one does not last": ([REVOKED, NOW + timedelta(days=2)], RECENT, [200],
                                            "expiring"),
    "expiring and idle": ([NOW + timedelta(days=2)], NOW - timedelta(days=30), [200],
                          "expiring"),
    "idle exactly the limit": ([LASTING], NOW - UNUSED_AFTER, [200], "healthy"),
    "idle a moment past the limit": ([LASTING], NOW - UNUSED_AFTER - TICK, [200], "unused"),
    "idle and last refused": ([LASTING], NOW - timedelta(days=30), [500], "failing"),
    "idle and last throttled": ([LASTING], NOW - timedelta(days=30), [429], "unused"),
}  # fmt: skip


def build(credentials, last_request_at, statuses):
    connection = ConnectionFactory(account=OrganizationFactory(), last_request_at=last_request_at)
    for expiry in credentials:
        revoked = expiry == REVOKED
        credential = Credential.build(connection, "bearer").credential
        credential.expires_at = None if revoked else expiry
        credential.revoked_at = NOW - timedelta(days=1) if revoked else None
        credential.save()
    # The same moment for every request: the latest is then the one with the highest id.
    for status in statuses:
        RequestLog.objects.create(
            connection=connection, created_at=RECENT, method="GET", path="/Users", status=status,
            duration_ms=1,
        )  # fmt: skip
    return connection


def test_the_sql_twin_agrees_with_health_on_every_state_and_boundary():
    built = {name: build(*case[:3]).pk for name, case in CASES.items()}
    connections = with_last_status(Connection.objects.all()).prefetch_related("credentials")
    in_python = {c.pk: health(c, now=NOW).key for c in connections}
    in_sql = dict(with_health(Connection.objects.all(), now=NOW).values_list("pk", "health"))
    expected = {name: case[3] for name, case in CASES.items()}
    assert {name: in_python[pk] for name, pk in built.items()} == expected
    assert {name: in_sql[pk] for name, pk in built.items()} == expected


def test_every_health_key_has_a_case():
    assert {case[3] for case in CASES.values()} == {
        "waiting", "healthy", "failing", "expiring", "unused",
    }  # fmt: skip


def test_filtering_and_counting_by_health_in_sql():
    for name in ("never called", "latest request 401", "only a revoked credential"):
        build(*CASES[name][:3])
    rows = with_health(Connection.objects.all(), now=NOW).values("health").order_by()
    counted = {row["health"]: row["n"] for row in rows.annotate(n=Count("pk"))}
    assert counted == {"waiting": 1, "failing": 2}
    failing = with_health(Connection.objects.all(), now=NOW).filter(health="failing")
    assert failing.count() == 2
