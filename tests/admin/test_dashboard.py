"""The staff dashboard in Django admin: what it counts, where each number leads, who
may see it, and what it costs at ten thousand connections."""

import html
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection as database
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scim_portal.models import Connection, Credential, RequestLog
from tests.factories import ConnectionFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db
DASHBOARD = "/admin/scim_portal/connection/dashboard/"
CHANGE_LINK = re.compile(r'href="/admin/scim_portal/connection/([0-9a-f-]{36})/change/')


def staff_with(*codenames):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="scim_portal", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client


def connection_in(state, provider="okta", account=None, **fields):
    """A connection in ``state`` (a health key), clear of every boundary."""
    now = timezone.now()
    last_request = {"waiting": None, "unused": now - timedelta(days=30)}.get(
        state, now - timedelta(minutes=5)
    )
    connection = ConnectionFactory(
        account=account or OrganizationFactory(),
        provider=provider,
        last_request_at=last_request,
        **fields,
    )
    credential = Credential.build(connection).credential
    credential.expires_at = now + timedelta(days=3) if state == "expiring" else None
    credential.save()
    status = 500 if state == "failing" else 200
    RequestLog.objects.create(
        connection=connection, method="GET", path="/Users", status=status, duration_ms=1
    )
    return connection


def rows(page, table_id):
    """The cells' text and links of each body row of the table in ``#table_id``."""
    table = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    found = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        found.append(
            [
                (
                    html.unescape(re.sub(r"<[^>]+>", "", cell)).strip(),
                    html.unescape(m[1]) if (m := re.search(r'href="([^"]+)"', cell)) else None,
                )
                for cell in cells
            ]
        )
    return found


def result_count(page):
    """The number of rows the admin changelist ``page`` says it found."""
    # <p class="paginator"> until Django 5.2, <nav class="paginator" …> from 6.0.
    paginator = re.search(r'class="paginator"[^>]*>(.*?)</(?:p|nav)>', page, re.S)[1]
    return int(re.search(r"([\d,]+) (?:connection|request)", paginator)[1].replace(",", ""))


@pytest.fixture
def fleet(db):
    """Connections in every state, two providers, one being deleted, plus requests."""
    made = {
        "healthy": [connection_in("healthy"), connection_in("healthy", provider="entra")],
        "failing": [connection_in("failing", provider="entra")],
        "expiring": [connection_in("expiring"), connection_in("expiring")],
        "unused": [connection_in("unused")],
        "waiting": [connection_in("waiting"), ConnectionFactory()],  # the second: no credential
    }
    deleting = connection_in("failing", provider="entra", deleting_since=timezone.now())
    Credential.objects.filter(connection=deleting).update(revoked_at=timezone.now())
    made["failing"].append(deleting)
    made["deleting"] = [deleting]
    busy = made["healthy"][0]
    an_hour_ago = timezone.now() - timedelta(hours=1)  # before its latest request, a 200
    RequestLog.objects.bulk_create(
        RequestLog(
            connection=busy,
            method="GET",
            path="/Users",
            status=status,
            duration_ms=1,
            created_at=an_hour_ago,
        )
        for status in [200] * 6 + [400, 429, 503]
    )
    # Older than the dashboard's 24 hours: in no count.
    RequestLog.objects.create(
        connection=busy, method="GET", path="/Users", status=500, duration_ms=1,
        created_at=timezone.now() - timedelta(days=2),
    )  # fmt: skip
    return made


def test_each_health_count_leads_to_a_changelist_of_exactly_those_connections(staff, fleet):
    page = staff.get(DASHBOARD).content.decode()
    shown = {}
    for (label, _), (count, url), _meaning in rows(page, "dashboard-health"):
        listed = staff.get(url).content.decode()
        assert result_count(listed) == int(count), (label, url)
        shown[url.rsplit("=", 1)[1]] = set(CHANGE_LINK.findall(listed))
    assert shown == {state: {str(c.pk) for c in made} for state, made in fleet.items()}
    assert "9 connections across all accounts" in page


def test_each_provider_row_leads_to_its_connections_and_requests(staff, fleet):
    page = staff.get(DASHBOARD).content.decode()
    table = {row[0][0]: row for row in rows(page, "dashboard-providers")}
    assert list(table) == ["Okta", "Microsoft Entra ID"]  # the busiest first
    okta = [text for text, _ in table["Okta"]]
    # 6 Okta connections; 5 + 9 requests today: 1 client error, 1 throttled, 1 server
    # error (3 of 14: 21.4 %)
    assert okta == ["Okta", "6", "14", "1", "1", "1", "21.4"]
    entra = [text for text, _ in table["Microsoft Entra ID"]]
    assert entra[1:] == ["3", "3", "0", "2", "0", "66.7"]
    for _name, (connections, connections_url), (requests, requests_url), *_ in table.values():
        assert result_count(staff.get(connections_url).content.decode()) == int(connections)
        assert result_count(staff.get(requests_url).content.decode()) == int(requests)


def test_expiring_credentials_and_busiest_connections_link_to_them(staff, fleet):
    page = staff.get(DASHBOARD).content.decode()
    expiring = rows(page, "dashboard-expiring")
    linked = {CHANGE_LINK.search(f'href="{row[2][1]}"')[1] for row in expiring}
    assert linked == {str(c.pk) for c in fleet["expiring"]}
    assert all(row[4][0].startswith("no") for row in expiring)
    assert "Credentials expiring within 14 days (2)" in page

    busiest = rows(page, "dashboard-busiest")
    assert busiest[0][0][0] == fleet["healthy"][0].name
    assert [text for text, _ in busiest[0][3:]] == ["10", "3"]
    assert len(busiest) == 7  # every connection with a request today but the one being deleted
    listed = staff.get(busiest[0][3][1]).content.decode()
    assert result_count(listed) == 10


def test_the_changelist_and_the_admin_index_link_to_the_dashboard(staff, fleet):
    assert DASHBOARD in staff.get("/admin/scim_portal/connection/").content.decode()
    assert DASHBOARD in staff.get("/admin/scim_portal/").content.decode()


def test_staff_need_the_view_permission_and_others_are_sent_to_log_in(fleet):
    assert staff_with().get(DASHBOARD).status_code == 403
    assert staff_with("view_connection").get(DASHBOARD).status_code == 200
    assert DASHBOARD not in staff_with().get("/admin/scim_portal/").content.decode()
    member = Client()
    member.force_login(UserFactory(is_staff=False))
    for client in (member, Client()):
        response = client.get(DASHBOARD)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def bulk_connections(count):
    """``count`` connections in bulk, cycling through the states, with a credential and a
    request each (and a few more requests for some)."""
    now = timezone.now()
    accounts = [OrganizationFactory() for _ in range(5)]
    connections = Connection.objects.bulk_create(
        Connection(
            account=accounts[i % 5],
            name=f"Bulk {i}",
            provider=("okta", "entra", "google")[i % 3],
            last_request_at=(None, now - timedelta(minutes=1), now - timedelta(days=9))[i % 3],
        )
        for i in range(count)
    )
    Credential.objects.bulk_create(
        Credential(
            connection=c,
            kind="federated",
            prefix="sub",
            expires_at=now + timedelta(days=i % 20) if i % 4 else None,
            revoked_at=now if i % 7 == 0 else None,
        )
        for i, c in enumerate(connections)
    )
    RequestLog.objects.bulk_create(
        RequestLog(
            connection=c,
            method="GET",
            path="/Users",
            status=(200, 201, 401, 429, 500)[i % 5],
            duration_ms=1,
            created_at=now - timedelta(hours=i % 30),
        )
        for i, c in enumerate(connections * 2)
    )


def queries(client, url):
    with CaptureQueriesContext(database) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_the_dashboard_and_the_health_filter_cost_the_same_at_ten_and_ten_thousand(
    staff, django_assert_max_num_queries
):
    filtered = "/admin/scim_portal/connection/?health=expiring"
    bulk_connections(10)
    few = queries(staff, DASHBOARD), queries(staff, filtered)
    bulk_connections(9_990)
    with django_assert_max_num_queries(12):
        page = staff.get(DASHBOARD).content.decode()
    assert "10,000 connections across all accounts" in page
    assert (queries(staff, DASHBOARD), queries(staff, filtered)) == few
