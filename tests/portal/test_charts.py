"""The overview's charts, the first-sync indicator and the request log's "From"."""

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from scim_portal._addresses import client_address, rate_limit_key
from scim_portal.models import EventType, ProvisioningEvent, RequestLog
from scim_portal.portal import charts, series
from scim_portal.provisioning import create_connection, issue_credential
from scim_portal.scim import limits
from tests.factories import OrganizationFactory
from tests.scim_client import basic_auth

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)


@pytest.fixture
def admin(setup):
    client = Client()
    client.force_login(setup["people"]["admin"])
    return client


def log(connection, status, at):
    return RequestLog.objects.create(
        connection=connection, method="GET", path="/x", status=status, duration_ms=1, created_at=at
    )


def event(connection, kind, at):
    return ProvisioningEvent.objects.create(
        connection=connection, account=connection.account, type=kind, resource_type="User",
        created_at=at,
    )  # fmt: skip


@pytest.fixture
def two_connections(db):
    account = OrganizationFactory()
    ours, _ = create_connection(account=account, name="Ours", provider="okta")
    theirs, _ = create_connection(account=account, name="Theirs", provider="entra")
    for connection in (ours, theirs):
        connection.created_at = NOW - timedelta(days=60)
        connection.save()
    return ours, theirs


def test_requests_per_hour_by_outcome_zero_filled_on_utc_hours(two_connections):
    ours, theirs = two_connections
    this_hour = datetime(2026, 3, 10, 12, tzinfo=UTC)
    log(ours, 200, this_hour)  # the hour's first instant
    log(ours, 201, this_hour - timedelta(microseconds=1))  # the previous hour's last
    log(ours, 404, this_hour + timedelta(minutes=5))
    log(ours, 429, this_hour + timedelta(minutes=6))
    log(ours, 503, this_hour - timedelta(hours=167))  # the oldest hour shown
    log(ours, 500, this_hour - timedelta(hours=168))  # just before: not shown
    log(theirs, 500, this_hour)  # another connection's

    result = series.request_series(ours, NOW)

    assert len(result.hours) == 168
    assert result.hours[-1].start == this_hour
    assert result.hours[-1].counts == {
        "success": 1, "client_error": 1, "throttled": 1, "server_error": 0
    }  # fmt: skip
    assert result.hours[-2].counts["success"] == 1
    assert result.hours[0].counts["server_error"] == 1
    assert sum(bucket.total for bucket in result.hours[1:-2]) == 0
    assert result.totals == {"success": 2, "client_error": 1, "throttled": 1, "server_error": 1}


def test_one_outcome_only_scales_to_the_tallest_bar(two_connections):
    ours, _ = two_connections
    for minute in range(7):
        log(ours, 200, NOW - timedelta(minutes=minute))
    log(ours, 200, NOW - timedelta(hours=5))
    chart = charts.request_chart(series.request_series(ours, NOW))
    assert {segment.outcome for segment in chart.segments} == {"success"}
    tallest = max(chart.segments, key=lambda segment: segment.height)
    # 7 requests on an axis to 10: seven tenths of the plot's height.
    assert tallest.height == pytest.approx(0.7 * (chart.baseline - chart.plot_top), abs=0.01)
    assert [tick.label for tick in chart.y_ticks] == ["0", "5", "10"]
    assert "8 requests in the last 7 days (successful: 8, client errors: 0" in chart.summary


def test_no_requests_draws_no_chart(two_connections, admin, setup, base):
    chart = charts.request_chart(series.request_series(two_connections[0], NOW))
    assert chart.empty and chart.segments == []
    RequestLog.objects.filter(connection=setup["connection"]).delete()
    page = admin.get(base + "/").content.decode()
    assert "No requests in the last 7 days." in page
    assert 'aria-labelledby="sp-requests-title' not in page


def test_hours_already_pruned_are_greyed_and_said_not_counted(two_connections, settings):
    """Request logs kept 3 days: the 4 older days were pruned, not quiet."""
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "REQUEST_LOG_RETENTION_DAYS": 3}
    ours, _ = two_connections
    log(ours, 200, NOW - timedelta(hours=1))
    log(ours, 500, datetime(2026, 3, 7, 12, 45, tzinfo=UTC))  # not pruned yet (prune is daily)

    result = series.request_series(ours, NOW)
    chart = charts.request_chart(result)

    # 12:30 three days ago is the cutoff: 13:00 is the first hour wholly kept.
    assert result.kept_from == datetime(2026, 3, 7, 13, tzinfo=UTC)
    pruned = 168 - 3 * 24  # Mar 3 13:00 to Mar 7 12:00
    assert [row.cells for row in chart.rows[: pruned - 1]] == [["—"] * 5] * (pruned - 1)
    assert chart.rows[pruned - 1].cells == ["0", "0", "0", "1", "1"]  # what is there is shown
    assert chart.rows[pruned].cells == ["0"] * 5
    x, _y, width, _height = chart.not_kept
    assert x == charts.LEFT
    assert width == pytest.approx(
        pruned / 168 * (charts.WIDTH - charts.LEFT - charts.RIGHT), abs=0.01
    )
    assert chart.note == (
        "Requests before 03/07/2026 1 p.m. are no longer kept (REQUEST_LOG_RETENTION_DAYS), so "
        "those hours are not counted."
    )

    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "REQUEST_LOG_RETENTION_DAYS": 7}
    kept = charts.request_chart(series.request_series(ours, NOW))
    assert kept.not_kept is None and kept.note == ""
    assert "—" not in {cell for row in kept.rows for cell in row.cells}


def test_the_overview_says_when_requests_were_pruned(admin, setup, base, settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "REQUEST_LOG_RETENTION_DAYS": 2}
    page = admin.get(base + "/").content.decode()
    assert 'class="sp-chart-not-kept"' in page
    assert "are no longer kept (REQUEST_LOG_RETENTION_DAYS)" in page
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "REQUEST_LOG_RETENTION_DAYS": 30}
    page = admin.get(base + "/").content.decode()
    assert "sp-chart-not-kept" not in page and "no longer kept" not in page


def test_users_and_groups_walked_back_from_today(two_connections):
    ours, theirs = two_connections
    midnight = datetime(2026, 3, 10, tzinfo=UTC)
    event(ours, EventType.USER_CREATED, midnight)  # today's first instant
    event(ours, EventType.USER_CREATED, midnight - timedelta(microseconds=1))  # yesterday
    event(ours, EventType.USER_DELETED, midnight + timedelta(hours=1))
    event(ours, EventType.USER_RESTORED, midnight + timedelta(hours=2))
    event(ours, EventType.USER_ADOPTED, midnight - timedelta(days=2))
    event(ours, EventType.GROUP_CREATED, midnight - timedelta(days=2))
    event(ours, EventType.USER_UPDATED, midnight)  # changes no count
    event(theirs, EventType.USER_CREATED, midnight)  # another connection's

    result = series.directory_series(ours, NOW, users_now=3, groups_now=1)

    assert len(result.days) == 30 and not result.cut_by_retention
    by_day = {point.day.isoformat(): (point.users, point.groups) for point in result.days}
    assert by_day["2026-03-10"] == (3, 1)  # now
    assert by_day["2026-03-09"] == (2, 1)  # today: +1 created, -1 deleted, +1 restored
    assert by_day["2026-03-08"] == (1, 1)  # yesterday's last instant: +1
    assert by_day["2026-03-07"] == (0, 0)  # the day before: adopted one, created a group
    assert by_day["2026-02-09"] == (0, 0)


def test_the_series_starts_with_the_connection_and_with_the_kept_events(two_connections, settings):
    ours, _ = two_connections
    ours.created_at = NOW - timedelta(days=3)
    ours.save()
    assert len(series.directory_series(ours, NOW, 0, 0).days) == 4
    ours.created_at = NOW - timedelta(days=300)
    ours.save()
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "EVENT_RETENTION_DAYS": 10}
    cut = series.directory_series(ours, NOW, 5, 0)
    assert cut.cut_by_retention and cut.days[0].day == (NOW - timedelta(days=10)).date()
    assert "no longer kept" in charts.directory_chart(cut).note


def test_overview_svg_has_title_desc_and_a_table_with_the_same_numbers(
    admin, setup, base, django_assert_max_num_queries
):
    connection = setup["connection"]
    connection.created_at -= timedelta(days=5)
    connection.save()
    now = timezone.now()
    for status in (200, 200, 200, 404, 429, 503):
        log(connection, status, now - timedelta(hours=2))
    # Session, user, account, permissions, connection (twice), credentials, recent events
    # (13 before the charts) and one aggregate per chart, whatever the number of rows.
    with django_assert_max_num_queries(15):
        page = admin.get(base + "/").content.decode()
    svg = re.search(r'<svg class="sp-chart-svg" role="img" aria-labelledby="sp-requests-title '
                    r'sp-requests-desc".*?</svg>', page, re.S)[0]  # fmt: skip
    assert '<title id="sp-requests-title">Requests per hour' in svg
    # The fixture's 401, and these six.
    desc = re.search(r'<desc id="sp-requests-desc">(.*?)</desc>', svg)[1]
    assert desc == (
        "7 requests in the last 7 days (successful: 3, client errors: 2, throttled: 1, "
        "server errors: 1)."
    )
    table = page.split("Show the data: requests per hour")[1].split("</table>")[0]
    rows = re.findall(
        r'<tr><th scope="row">[^<]*</th>((?:<td class="sp-num">\d+</td>)+)</tr>', table
    )
    assert len(rows) == 168
    cells = [list(map(int, re.findall(r">(\d+)<", row))) for row in rows]
    assert [sum(column) for column in zip(*cells, strict=True)] == [3, 2, 1, 1, 7]
    # Four outcomes two hours ago, the fixture's 401 now.
    assert len(re.findall(r"<rect x=", svg)) == 5
    directory_svg = re.search(r'aria-labelledby="sp-directory-title sp-directory-desc".*?</svg>',
                              page, re.S)[0]  # fmt: skip
    assert "users went from 0 to 1, groups from 0 to 1" in directory_svg
    assert "Show the data: users and groups per day" in page


def test_charts_never_show_another_connections_data(admin, setup):
    other = setup["other_connection"]
    log(other, 500, timezone.now())
    assert admin.get(f"/provisioning/acme/{other.pk}/").status_code == 404
    page = admin.get(f"/provisioning/acme/{setup['connection'].pk}/").content.decode()
    assert "server errors: 0" in page


def test_first_sync_indicator_while_the_idp_pushes_then_gone(admin, setup, base):
    connection = setup["connection"]
    page = admin.get(base + "/").content.decode()
    # The fixture created its user and group just now: a first sync, heard as a status.
    status = re.search(r'<span role="status">(.*?)</span>', page)
    assert status, "no first-sync indicator"
    assert re.fullmatch(
        r"1 user, 1 group so far; last change (just now|\d+ seconds? ago)\.", status[1]
    )
    # No timed reload (axe-core's meta-refresh: people must control the timing): a link.
    assert "http-equiv" not in page and ">Refresh</a>" in page

    ProvisioningEvent.objects.filter(connection=connection).update(
        created_at=timezone.now() - timedelta(minutes=3)
    )
    quiet = admin.get(base + "/").content.decode()
    assert 'role="status"' not in quiet and ">Refresh</a>" not in quiet


def test_no_first_sync_on_a_connection_older_than_its_kept_events(admin, setup, base, settings):
    """A year-old connection whose events were all pruned changes again: its oldest kept
    change is recent, but it is no first sync."""
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "EVENT_RETENTION_DAYS": 30}
    connection = setup["connection"]
    assert 'role="status"' in admin.get(base + "/").content.decode()
    connection.created_at = timezone.now() - timedelta(days=31)
    connection.save(update_fields=["created_at"])
    assert 'role="status"' not in admin.get(base + "/").content.decode()


def test_first_sync_counts_are_localised(setup):
    from scim_portal.portal.views import sync_status

    connection = setup["connection"]
    connection.user_count, connection.group_count = 1240, 12
    connection.last_change_at = NOW - timedelta(seconds=20)
    from django.utils import translation

    with translation.override("en"):
        assert (
            sync_status(connection, NOW)
            == "1,240 users, 12 groups so far; last change 20 seconds ago."
        )


def test_nice_ceiling():
    assert [charts.nice_ceiling(value) for value in (0, 1, 3, 7, 11, 24, 26, 999)] == [
        1, 1, 5, 10, 20, 25, 50, 1000
    ]  # fmt: skip


# The request log's "From"


def test_log_shows_the_provider_credential_and_address(
    admin, setup, base, django_assert_max_num_queries
):
    entry = RequestLog.objects.create(
        connection=setup["connection"], method="GET", path="/scim/v2/x/Users", status=200,
        duration_ms=1, credential_kind="bearer", token_prefix="scimp_ab12",
        user_agent="Okta SCIM Client 1.0.0", idp="okta", source_ip="203.0.113.9",
    )  # fmt: skip
    # Session, user, account, permissions, connection, the page's count and rows: "From"
    # adds none.
    with django_assert_max_num_queries(12):
        listing = admin.get(base + "/logs/").content.decode()
    cell = re.search(r'<td class="sp-from">(.*?)</td>', listing, re.S)[1]
    assert "Okta" in cell and "<code>scimp_ab12…</code>" in cell and "from 203.0.113.9" in cell
    detail = admin.get(base + f"/logs/{entry.pk}/").content.decode()
    assert "<dt>Identity provider</dt><dd>Okta</dd>" in detail
    assert "<dt>Client</dt><dd>Okta SCIM Client 1.0.0</dd>" in detail
    assert "<dt>Source address</dt><dd><code>203.0.113.9</code></dd>" in detail
    unknown = admin.get(base + f"/logs/{setup['log'].pk}/").content.decode()
    assert "not recognised from its User-Agent" in unknown and "not recorded" in unknown


def test_a_scim_request_records_its_address(scim):
    scim.client.defaults["REMOTE_ADDR"] = "198.51.100.7"
    scim.get("/Users")
    assert RequestLog.objects.get(connection=scim.connection).source_ip == "198.51.100.7"


def address(settings, proxies, remote, forwarded=None):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "TRUSTED_PROXY_COUNT": proxies}
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(RequestFactory().get("/", **extra))


def test_without_proxies_a_forged_forwarded_for_is_ignored(settings):
    assert address(settings, 0, "198.51.100.7", "203.0.113.66") == "198.51.100.7"


def test_behind_proxies_the_address_the_outermost_one_saw(settings):
    # client (forging 6.6.6.6) -> proxy A (adds the client's) -> proxy B -> Django
    assert address(settings, 2, "10.0.0.2", "6.6.6.6, 203.0.113.5, 10.0.0.1") == "203.0.113.5"
    assert address(settings, 1, "10.0.0.2", "203.0.113.5") == "203.0.113.5"
    assert address(settings, 3, "10.0.0.2", "203.0.113.5") == "203.0.113.5"  # fewer hops
    assert address(settings, 1, "10.0.0.2") == "10.0.0.2"  # no header: the peer
    assert address(settings, 1, "10.0.0.2", "not-an-address") is None


def test_addresses_as_proxies_write_them(settings):
    """Some load balancers write a port, brackets or an IPv6 zone; PostgreSQL's inet
    refuses a zone, so it goes."""
    assert address(settings, 1, "10.0.0.2", "203.0.113.5:54321") == "203.0.113.5"
    assert address(settings, 1, "10.0.0.2", "[2001:db8::1]:443") == "2001:db8::1"
    assert address(settings, 1, "10.0.0.2", "2001:DB8::1") == "2001:db8::1"
    assert address(settings, 1, "10.0.0.2", "fe80::1%eth0") == "fe80::1"


def test_the_token_endpoint_logs_and_counts_by_the_same_address(settings, client, monkeypatch):
    # One minute's window for every request of the test, wherever the clock stands.
    monkeypatch.setattr(limits, "time", SimpleNamespace(time=lambda: 1_800_000_030.0))
    settings.SCIM_PORTAL = {
        **settings.SCIM_PORTAL,
        "TRUSTED_PROXY_COUNT": 1,
        "TOKEN_RATE_LIMIT_PER_MINUTE": 1,
    }
    connection, _ = create_connection(account=OrganizationFactory(), name="E", provider="entra")
    issued = issue_credential(connection, "client_secret", label="Entra")
    connection.refresh_from_db()

    def token(forwarded):
        return client.post(
            "/scim/oauth/token",
            {"grant_type": "client_credentials", "scope": "scim"},
            HTTP_AUTHORIZATION=basic_auth(connection.oauth_client_id, issued.raw),
            REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded, secure=True,
        )  # fmt: skip

    assert token("203.0.113.5").status_code == 200
    assert RequestLog.objects.get(connection=connection).source_ip == "203.0.113.5"

    def guess(forwarded, client_id):
        return client.post(
            "/scim/oauth/token",
            {"grant_type": "client_credentials", "scope": "scim"},
            HTTP_AUTHORIZATION=basic_auth(client_id, "guess"),
            REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded, secure=True,
        )  # fmt: skip

    # Fresh client ids each time: only the address's count can refuse them.
    assert guess("198.51.100.9", "guess-1").status_code == 401
    assert guess("198.51.100.9", "guess-2").status_code == 429  # the same client
    assert guess("198.51.100.10", "guess-3").status_code == 401  # another client, behind
    # the same proxy: counted apart
    assert guess("garbage-1", "guess-4").status_code == 401  # no address: its own count
    assert guess("garbage-2", "guess-5").status_code == 401
    # IPv6: one host holds a /64 and may rotate through it; the next /64 is another.
    assert guess("2001:db8:0:1::1", "guess-6").status_code == 401
    assert guess("[2001:db8:0:1:ffff::2]:443", "guess-7").status_code == 429
    assert guess("2001:db8:0:2::1", "guess-8").status_code == 401
    # An IPv4 client written as IPv6 is that IPv4 client.
    assert guess("::ffff:198.51.100.9", "guess-9").status_code == 429


def test_rate_limit_keys():
    assert rate_limit_key("203.0.113.5:80") == "203.0.113.5"
    assert rate_limit_key("2001:db8::1") == rate_limit_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert rate_limit_key("::ffff:203.0.113.5") == "203.0.113.5"
    # IPv6 that carries IPv4 clients is counted by them, or by the whole address.
    assert rate_limit_key("64:ff9b::203.0.113.5") == "203.0.113.5"  # NAT64
    assert rate_limit_key("64:ff9b::198.51.100.7") == "198.51.100.7"
    assert rate_limit_key("2001:0:4136:e378:8000:63bf:3fff:fdd2") == (
        "2001:0:4136:e378:8000:63bf:3fff:fdd2"  # Teredo
    )
    assert rate_limit_key("64:ff9b:1::1") != rate_limit_key("64:ff9b:1::2")  # local NAT64
    assert rate_limit_key("::1") == "::1" and rate_limit_key("fe80::1%eth0") == "fe80::1"
    assert rate_limit_key("junk") != rate_limit_key("junk2")
    assert rate_limit_key("junk").startswith("text:")


def test_in_german_numbers_are_grouped_and_coordinates_stay_machine_readable(admin, setup, base):
    connection = setup["connection"]
    RequestLog.objects.bulk_create(
        RequestLog(connection=connection, method="GET", path="/x", status=200, duration_ms=1)
        for _ in range(1234)
    )
    page = admin.get(base + "/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    desc = re.search(r'<desc id="sp-requests-desc">(.*?)</desc>', page)[1]
    assert desc.startswith("1.235 ")  # German grouping (untranslated words until the .po)
    coordinates = re.findall(r'<rect x="([^"]+)" y="([^"]+)" width="([^"]+)"', page)
    assert coordinates and all(re.fullmatch(r"-?\d+(\.\d+)?", v) for c in coordinates for v in c)
