"""A secret an IdP sends is used (or ignored) but never stored, in any table."""

from uuid import uuid4

import pytest
from django.db import connection

from scim_portal.conf import app_settings
from scim_portal.models import DirectoryUser, RequestLog
from scim_portal.scim.request_log import record

pytestmark = pytest.mark.django_db

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def database_text():
    """Every value of every row of every table, as text."""
    texts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("utf-8", "replace")
                    texts.append(str(value))
    return "\n".join(texts)


def test_a_canary_sent_in_every_secret_position_is_stored_nowhere(scim, client, badge_extension):
    canary = uuid4().hex
    badge = badge_extension

    # Resource bodies: the core password, the extension's pin and locker.combination.
    created = scim.post("/Users", {"schemas": [CORE], "userName": "canary@example.com",
                                   "password": canary})  # fmt: skip
    assert created.status_code == 201, created.content
    user = created.json()["id"]
    response = scim.post("/Users", {
        "schemas": [CORE, badge], "userName": "pin@example.com", "PASSWORD": canary,
        badge: {"badgeNumber": "B-1", "pin": canary, "locker": {"number": "7",
                                                               "combination": canary}},
    })  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()[badge] == {"badgeNumber": "B-1", "locker": {"number": "7"}}
    response = scim.put(f"/Users/{user}", {
        "schemas": [CORE, badge], "userName": "canary@example.com", "password": canary,
        f"{badge}:pin": canary,
    })  # fmt: skip
    assert response.status_code == 200, response.content

    # PATCH by path, in every spelling, and by value object.
    for path in ("password", "PASSWORD", f"{CORE}:password", f"{badge}:pin",
                 f"{badge.upper()}:PIN", f"{badge}:locker.combination"):  # fmt: skip
        response = scim.patch_ops(f"/Users/{user}", {"op": "replace", "path": path,
                                                     "value": canary})  # fmt: skip
        assert response.status_code == 200, (path, response.content)
    response = scim.patch_ops(f"/Users/{user}", {"op": "Replace", "value": {
        "password": canary, f"{badge}:pin": canary, badge: {"pin": canary, "floor": 3},
        "displayName": "Canary",
    }})  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["displayName"] == "Canary"

    # Values of the wrong type at a secret path: errors that might echo them.
    for path, value in (("password", {"nested": canary}), (f"{badge}:pin", [canary])):
        response = scim.patch_ops(f"/Users/{user}", {"op": "replace", "path": path,
                                                     "value": value})  # fmt: skip
        assert response.status_code == 400, response.content

    # Bulk: POST, PUT and PATCH operations carrying it.
    response = scim.post("/Bulk", {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "b",
         "data": {"userName": "bulk@example.com", "password": canary, badge: {"pin": canary}}},
        {"method": "PUT", "path": "/Users/bulkId:b",
         "data": {"userName": "bulk@example.com", "password": canary}},
        {"method": "PATCH", "path": "/Users/bulkId:b", "data": {"Operations": [
            {"op": "replace", "path": "password", "value": canary},
            {"op": "add", "value": {f"{badge}:locker.combination": canary}},
        ]}},
    ]})  # fmt: skip
    assert response.status_code == 200, response.content
    assert [result["status"] for result in response.json()["Operations"]] == ["201", "200", "200"]

    # Query strings and headers.
    assert scim.get("/Users", access_token=canary).status_code == 200
    assert scim.get(f"/Users/{user}", api_key=canary).status_code == 200
    response = client.get(f"{scim.base}/Users", HTTP_AUTHORIZATION=f"Bearer {canary}")
    assert response.status_code == 401
    extra_headers = {"X-Api-Key": canary, "Proxy-Authorization": f"Bearer {canary}",
                     "Cookie": f"session={canary}"}  # fmt: skip
    assert scim.get("/Users", headers=extra_headers).status_code == 200

    # A body that is not JSON.
    response = scim.post("/Users", '{"userName": "broken@example.com", "password": "' + canary)
    assert response.status_code == 400

    # What an IdP reads back has no secret either.
    read = scim.get(f"/Users/{user}").json()
    assert "password" not in read and "pin" not in read[badge] and read[badge]["floor"] == 3

    stored = database_text()
    assert canary not in stored
    # ... and the dump did see the traffic: the log rows and documents are there.
    assert RequestLog.objects.count() == 19
    assert "[redacted]" in stored and "pin@example.com" in stored and "B-1" in stored


def test_secrets_never_reach_the_stored_document(scim, badge_extension):
    badge = badge_extension
    created = scim.create_user("doc@example.com", password="pw-pw-pw", **{
        badge: {"badgeNumber": "B-9", "pin": "1234-1234", "locker": {"combination": "l-r"}}
    })  # fmt: skip
    user = DirectoryUser.objects.get(pk=created["id"])
    assert user.attributes[badge] == {"badgeNumber": "B-9"}
    assert "password" not in user.attributes
    assert created[badge] == {"badgeNumber": "B-9"}


# The request log


def test_the_log_shows_where_secrets_were(scim):
    user = scim.create_user("where@example.com")
    scim.patch_ops(f"/Users/{user['id']}", {"op": "replace", "path": "password",
                                             "value": "Tr0ub4dor&3"})  # fmt: skip
    scim.get("/Users", count=1, access_token="tok-tok-tok")
    patch, query = RequestLog.objects.order_by("-id")[:2][::-1]
    assert '"path": "password", "value": "[redacted]"' in patch.request_body
    assert query.query == "count=1&access_token=[redacted]"


def test_an_error_echoing_a_secret_is_scrubbed_from_every_text(scim, rf):
    secret = uuid4().hex
    request = rf.post(f"{scim.base}/Users?api_key={secret}x", HTTP_USER_AGENT="IdP")
    record(
        connection_id=scim.connection.id,
        request=request,
        status=400,
        duration_ms=1.0,
        request_body=f'{{"userName": "a", "password": "{secret}"}}'.encode(),
        response_data={"status": "400", "detail": f"'{secret}' and '{secret}x' are bad"},
        token_prefix="scimp_abcdefgh",
    )
    entry = RequestLog.objects.get()
    assert entry.detail == "'[redacted]' and '[redacted]' are bad"
    assert secret not in entry.response_body and "[redacted]" in entry.response_body
    assert entry.query == "api_key=[redacted]"
    assert secret not in entry.request_body


def test_a_body_that_is_not_json_keeps_its_keys_and_punctuation_only(scim):
    response = scim.post(
        "/Users", '{"userName": "a@example.com", "pin": 1234, "ok": true, "x": "ab'
    )
    assert response.status_code == 400
    entry = RequestLog.objects.get()
    assert entry.request_body == (
        '{"userName": "[redacted]", "pin": [redacted], "ok": true, "x": "[redacted]"'
    )


def test_huge_and_deeply_nested_bodies_are_logged(scim, settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "MAX_REQUEST_BYTES": 2_000_000}
    huge = {"password": "p4ssw0rd", "userName": "huge@example.com", "title": "t" * 500_000}
    assert scim.post("/Users", huge).status_code == 201
    scim.post("/Users", '{"userName": "deep", "x": ' + "[" * 50_000 + "]" * 50_000 + "}")
    huge_entry, deep_entry = RequestLog.objects.order_by("id")
    assert len(huge_entry.request_body) == app_settings.REQUEST_LOG_BODY_LIMIT
    assert huge_entry.request_body.endswith("…") and "p4ssw0rd" not in huge_entry.request_body
    assert deep_entry.request_body.startswith('{"userName": "[redacted]", "x": [[[')


def test_an_unauthenticated_body_is_not_kept(scim, client):
    secret = uuid4().hex
    response = client.post(
        f"{scim.base}/Users",
        f'{{"userName": "{secret}"}}',
        content_type="application/scim+json",
        HTTP_AUTHORIZATION="Bearer scimp_wrong",
    )
    assert response.status_code == 401
    entry = RequestLog.objects.get()
    assert entry.status == 401 and entry.request_body == ""


def test_hostile_paths_and_keys_cost_linear_time(scim):
    """An unclosed ``[`` once made the value-filter pattern backtrack for minutes."""
    user = scim.create_user("slow@example.com")["id"]
    for repeat in (50_000, 600):
        response = scim.patch_ops(
            f"/Users/{user}", {"op": "replace", "path": '["' * repeat, "value": "x"}
        )
        assert response.status_code == 400
    entry = RequestLog.objects.filter(method="PATCH").order_by("-id").first()
    assert entry.request_body.endswith('"value": "[redacted]"}]}')  # too long to parse: secret


def test_a_filter_on_a_secret_attribute_is_not_kept(scim):
    secret = uuid4().hex
    scim.get(f"/Users?filter=password+eq+%22{secret}%22")
    scim.post("/Users/.search", {"filter": f'PASSWORD eq "{secret}" or userName eq "x"'})
    scim.get("/Users?filter=userName+eq+%22kept%22")
    logged = list(
        RequestLog.objects.values_list("query", "request_body", "detail", "response_body")
    )
    assert secret not in str(logged)
    assert "filter=userName+eq+%22kept%22" in str(logged)  # other filters stay readable
