"""The drift report in the management API: counts and pages, the CSV, a fix per row."""

import csv
import io

import pytest
from django.test import Client

from scim_portal import permissions
from scim_portal.models import EnvironmentKey, EventType, ProvisioningEvent, Removal
from tests.api.test_api import API, as_person, call
from tests.conftest import grant
from tests.drift_seed import COUNTS
from tests.factories import UserFactory
from tests.testapp.models import OrganizationMembership

pytestmark = pytest.mark.django_db


@pytest.fixture
def env_key(db):
    _key, raw = EnvironmentKey.issue("CI automation")
    return raw


@pytest.fixture
def base(drift_host):
    return f"{API}/accounts/acme/connections/{drift_host['connection'].pk}/drift"


def fixes(host):
    users, hosts = host["users"], host["hosts"]
    rejected = Removal.objects.get(user_id=users["rejected"].pk, state="rejected")
    return {
        "reapply": {"user": str(users["lost"].pk)},
        "deactivate": {"host_user": hosts["contractor"].pk},
        "adopt": {"host_user": hosts["newhire"].pk},
        "approve": {"removal": rejected.pk},
    }


def test_counts_and_first_page_of_every_kind(drift_host, base, django_assert_max_num_queries):
    admin = as_person(drift_host, "admin")
    call(admin, "get", base + "/")  # session warm
    with django_assert_max_num_queries(24):  # 6 + a page per kind, whatever the size
        body = call(admin, "get", base + "/").json()
    assert body["counts"] == COUNTS and body["hostMembershipsKnown"] is True
    assert body["connection"] == str(drift_host["connection"].pk)
    assert set(body["rows"]) == set(COUNTS)
    [held] = body["rows"]["held"]["results"]
    assert (
        held["id"] == str(drift_host["users"]["held"].pk) and held["userName"] == "held@acme.test"
    )
    assert held["removal"]["kind"] == "deactivate" and held["actions"] == []
    contractor = next(
        r for r in body["rows"]["unmanaged"]["results"] if r["hostUser"]["username"] == "contractor"
    )
    assert contractor["actions"] == ["deactivate"] and contractor["adoptable"] is False


def test_pages_of_one_kind(drift_host, base):
    admin = as_person(drift_host, "admin")
    seen, after = [], None
    while True:
        query = {"kind": "membership", "limit": 2, **({"after": after} if after else {})}
        body = call(admin, "get", base + "/", query).json()
        assert list(body["rows"]) == ["membership"]
        seen += [row["userName"] for row in body["rows"]["membership"]["results"]]
        after = body["rows"]["membership"]["next"]
        if after is None:
            break
    assert len(seen) == len(set(seen)) == COUNTS["membership"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"kind": "everything"}, "kind"),
        ({"after": "x"}, "after"),
        ({"kind": "role", "after": "x"}, "after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "lots"}, "limit"),
    ],
)
def test_bad_parameters_are_400(drift_host, base, query, field):
    response = call(as_person(drift_host, "admin"), "get", base + "/", query)
    assert response.status_code == 400 and field in response.json()


def test_csv(drift_host, base, env_key):
    response = Client().get(
        base + ".csv", HTTP_AUTHORIZATION=f"Bearer {env_key}", HTTP_ACCEPT="text/csv"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="drift-okta-')
    records = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(records) == sum(COUNTS.values())
    denied = Client().get(base + ".csv", HTTP_ACCEPT="text/csv")
    assert denied.status_code == 401


def test_csv_stays_english_for_a_german_client(drift_host, base, env_key):
    """The rows are written while the answer streams, after the view returned."""
    response = Client().get(
        base + ".csv", HTTP_AUTHORIZATION=f"Bearer {env_key}", HTTP_ACCEPT="text/csv",
        HTTP_ACCEPT_LANGUAGE="de",
    )  # fmt: skip
    assert response["Content-Language"] == "en"
    body = b"".join(response.streaming_content).decode()
    assert "no directory user" in body and "member, role" in body
    assert "Verzeichnis" not in body and "Mitglied" not in body


@pytest.mark.parametrize("action", ["reapply", "deactivate", "adopt", "approve"])
def test_each_fix_fixes_its_row_only(drift_host, base, env_key, action):
    response = call(Client(), "post", f"{base}/{action}/", fixes(drift_host)[action], key=env_key)
    assert response.status_code == (201 if action == "adopt" else 200), response.content
    assert response.json()["action"] == action
    kind = {"reapply": "membership", "approve": "rejected"}.get(action, "unmanaged")
    counts = call(Client(), "get", base + "/", key=env_key).json()["counts"]
    assert counts == {**COUNTS, kind: COUNTS[kind] - 1}
    event = ProvisioningEvent.objects.filter(
        type__in=[EventType.DRIFT_FIXED, EventType.USER_ADOPTED]
    ).get()
    assert event.actor == {"type": "environment_key", "name": "CI automation",
                           "prefix": event.actor["prefix"]}  # fmt: skip


@pytest.mark.parametrize("who", ["admin", "creator", "auditor", "member", "other_admin",
                                 "anonymous"])  # fmt: skip
def test_permissions(drift_host, base, who):
    if who == "creator":
        drift_host["people"]["creator"] = grant(
            UserFactory(username="creator"), drift_host["account"],
            permissions.READ, permissions.CREATE,
        )  # fmt: skip
    client = as_person(drift_host, who)
    may = {"admin": {"read", "create", "delete"}, "creator": {"read", "create"},
           "auditor": {"read"}}.get(who, set())  # fmt: skip

    def expected(needed, ok):
        return 401 if who == "anonymous" else ok if needed in may else 403

    assert call(client, "get", base + "/").status_code == expected("read", 200)
    for action, data in fixes(drift_host).items():
        needed = "create" if action == "adopt" else "delete"
        ok = 201 if action == "adopt" else 200
        assert call(client, "post", f"{base}/{action}/", data).status_code == expected(needed, ok)


def test_refusals_and_other_accounts(drift_host, base, env_key):
    hosts, users = drift_host["hosts"], drift_host["users"]

    def fix(action, data):
        return call(Client(), "post", f"{base}/{action}/", data, key=env_key)

    refused = fix("deactivate", {"host_user": hosts["root"].pk})
    assert refused.status_code == 409 and "vendor staff" in refused.json()["detail"]
    assert fix("reapply", {"user": str(users["held"].pk)}).status_code == 409
    assert fix("adopt", {"host_user": hosts["contractor"].pk}).status_code == 409
    assert fix("deactivate", {"host_user": hosts["outsider"].pk}).status_code == 404
    assert fix("reapply", {"user": str(users["theirs"].pk)}).status_code == 404
    assert fix("reapply", {}).status_code == 400
    assert fix("obliterate", {"user": str(users["lost"].pk)}).status_code == 404
    other = f"{API}/accounts/acme/connections/{drift_host['other_connection'].pk}/drift/"
    assert call(Client(), "get", other, key=env_key).status_code == 404
    person = as_person(drift_host, "other_admin")
    assert call(person, "post", f"{base}/deactivate/", {"host_user": hosts["contractor"].pk}
                ).status_code == 403  # fmt: skip
    assert OrganizationMembership.objects.get(user=hosts["outsider"]).is_active
    assert OrganizationMembership.objects.get(user=hosts["contractor"]).is_active
    assert not ProvisioningEvent.objects.filter(type=EventType.DRIFT_FIXED).exists()
