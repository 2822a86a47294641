"""Webhook endpoints in the management API: environment keys only, the secret once,
rotation with overlap, pause and resume, replay, the delivery log, refusals as JSON."""

import pytest
from django.test import Client
from standardwebhooks.webhooks import Webhook

from scim_portal.delivery import endpoints
from scim_portal.models import DeliveryAttempt, EnvironmentKey, WebhookEndpoint
from tests.api.test_api import API, as_person, call
from tests.delivery.conftest import run_tasks
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ENDPOINTS = f"{API}/webhook-endpoints/"


@pytest.fixture
def env_key(db):
    _key, raw = EnvironmentKey.issue("CI automation")
    return raw


@pytest.fixture
def vendor(env_key):
    """Calls with the environment key."""

    def send(method, url, data=None):
        return call(Client(), method, url, data, key=env_key)

    return send


def user(name):
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}


def write_users(scim, capture, names):
    for name in names:
        with capture(execute=True):
            assert scim.post("/Users", user(name)).status_code == 201


def test_create_returns_the_secret_once(vendor, setup, insecure, receiver):
    response = vendor("post", ENDPOINTS, {
        "url": receiver.url, "account": "acme", "event_types": ["user.created"],
        "description": "seats",
    })  # fmt: skip
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    body = response.json()
    secret = body["secret"]
    assert secret.startswith("whsec_")
    assert (body["url"], body["account"], body["format"], body["method"], body["state"]) == (
        receiver.url, "acme", "standard-webhooks", "push", "enabled",
    )  # fmt: skip
    assert body["event_types"] == ["user.created"] and body["backlog"] == 0
    assert [s["prefix"] for s in body["secrets"]] == [secret[:12]]
    sent = vendor("post", f"{ENDPOINTS}{body['id']}/test/").json()
    assert sent["ok"] is True and sent["status_code"] == 204 and sent["outcome"] == "test"
    (delivery,) = receiver.received
    assert Webhook(secret).verify(delivery.body, delivery.headers)["type"] == "webhook.test"
    for url in (ENDPOINTS, f"{ENDPOINTS}{body['id']}/"):
        shown = vendor("get", url)
        assert shown.status_code == 200 and secret not in shown.content.decode()
        assert secret[:12] in shown.content.decode()


def test_defaults_and_every_account(vendor):
    body = vendor("post", ENDPOINTS, {"url": "https://hooks.example.com/in"}).json()
    assert body["account"] is None and body["event_types"] == []
    assert body["format"] == "standard-webhooks" and body["method"] == "push"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://10.0.0.1/x", "10.0.0.1 is not a public address."),
        ("https://[::1]/x", "::1 is not a public address."),
        ("http://hooks.example.com/x", "http://hooks.example.com/x is not an https URL."),
        ("https://localhost/x", "Endpoints may not be on this machine (localhost)."),
    ],
)
def test_a_refused_url_is_a_400_with_the_reason(vendor, url, reason):
    response = vendor("post", ENDPOINTS, {"url": url})
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert response.json() == {"url": [reason]}
    assert not WebhookEndpoint.objects.exists()


def test_other_bad_input_is_a_400_naming_the_field(vendor):
    cases = [
        ({"url": "https://a.example/x", "event_types": ["user.exploded"]}, "event_types"),
        ({"url": "https://a.example/x", "account": "nobody"}, "account"),
        ({"method": "poll", "format": "standard-webhooks"}, "method"),
        ({"url": "https://a.example/x", "format": "xml"}, "format"),
    ]
    for data, name in cases:
        response = vendor("post", ENDPOINTS, data)
        assert response.status_code == 400, (data, response.content)
        assert name in response.json()
    endpoint, _ = endpoints.add_endpoint(url="https://hooks.example.com/in")
    for data, name in [
        ({"url": "https://192.168.1.20/in"}, "url"),
        ({"state": "disabled"}, "state"),
    ]:
        response = vendor("patch", f"{ENDPOINTS}{endpoint.pk}/", data)
        assert response.status_code == 400 and name in response.json()
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.state) == ("https://hooks.example.com/in", "enabled")


def test_people_never_manage_or_see_endpoints(setup, env_key, settings):
    endpoint, _ = endpoints.add_endpoint(url="https://hooks.example.com/theirs")
    theirs = endpoints.add_endpoint(url="https://hooks.example.com/acme", account=setup["account"])[
        0
    ]
    superuser = Client()
    superuser.force_login(UserFactory(is_staff=True, is_superuser=True))
    clients = {
        "admin": as_person(setup, "admin"),
        "other_admin": as_person(setup, "other_admin"),
        "superuser": superuser,
        "anonymous": Client(),
    }
    requests = []
    for target in (endpoint, theirs):
        one = f"{ENDPOINTS}{target.pk}/"
        requests += [
            ("get", one, None), ("patch", one, {"state": "paused"}), ("delete", one, None),
            ("post", one + "rotate-secret/", None), ("post", one + "test/", None),
            ("post", one + "replay/", {"connection": str(setup["connection"].pk), "from": 1}),
            ("get", one + "deliveries/", None),
        ]  # fmt: skip
    requests += [("get", ENDPOINTS, None), ("post", ENDPOINTS, {"url": "https://x.example/"})]
    for who, client in clients.items():
        for method, url, data in requests:
            response = call(client, method, url, data)
            expected = 401 if who == "anonymous" else 403
            assert response.status_code == expected, (who, method, url)
            assert response["Content-Type"] == "application/json"
            assert "hooks.example.com" not in response.content.decode()
    assert WebhookEndpoint.objects.count() == 2
    assert all(
        e.state == "enabled" and e.secrets.count() == 1 for e in WebhookEndpoint.objects.all()
    )


def test_list_filters_by_account_and_pages_with_a_cursor(vendor, setup):
    for n in range(3):
        endpoints.add_endpoint(url=f"https://hooks.example.com/{n}")
    endpoints.add_endpoint(url="https://hooks.example.com/acme", account=setup["account"])
    urls, page = [], f"{ENDPOINTS}?limit=2"
    while page:
        body = vendor("get", page).json()
        urls += [row["url"] for row in body["results"]]
        page = body["next"]
    assert urls == [f"https://hooks.example.com/{n}" for n in range(3)] + [
        "https://hooks.example.com/acme"
    ]
    only = vendor("get", ENDPOINTS, {"account": "acme"}).json()["results"]
    assert [row["url"] for row in only] == ["https://hooks.example.com/acme"]


def test_rotate_keeps_the_old_secret_through_the_overlap(vendor, insecure, receiver):
    created = vendor("post", ENDPOINTS, {"url": receiver.url}).json()
    rotated = vendor("post", f"{ENDPOINTS}{created['id']}/rotate-secret/", {"overlap_hours": 6})
    assert rotated.status_code == 201 and rotated["Cache-Control"] == "no-store"
    body = rotated.json()
    assert body["secret"] != created["secret"]
    assert [s["active"] for s in body["secrets"]] == [True, True]
    assert sum(s["expires_at"] is not None for s in body["secrets"]) == 1
    vendor("post", f"{ENDPOINTS}{created['id']}/test/")
    (sent,) = receiver.received
    assert len(sent.headers["webhook-signature"].split()) == 2
    for secret in (created["secret"], body["secret"]):
        assert Webhook(secret).verify(sent.body, sent.headers)["type"] == "webhook.test"
    shown = vendor("get", f"{ENDPOINTS}{created['id']}/").content.decode()
    assert created["secret"] not in shown and body["secret"] not in shown


def test_pause_stops_deliveries_and_resume_delivers_what_waited(
    vendor, scim, insecure, receiver, django_capture_on_commit_callbacks
):
    created = vendor("post", ENDPOINTS, {"url": receiver.url}).json()
    one = f"{ENDPOINTS}{created['id']}/"
    write_users(scim, django_capture_on_commit_callbacks, ["ada"])
    run_tasks()
    with django_capture_on_commit_callbacks(execute=True):
        assert vendor("patch", one, {"state": "paused"}).json()["state"] == "paused"
    write_users(scim, django_capture_on_commit_callbacks, ["bob", "cy"])
    run_tasks()
    assert len(receiver.received) == 1
    assert vendor("get", one).json()["backlog"] == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert vendor("patch", one, {"state": "enabled"}).json()["state"] == "enabled"
    run_tasks()
    names = [item.json["data"]["changes"]["userName"] for item in receiver.applied_in_order()]
    assert names == ["ada", "bob", "cy"]
    assert vendor("get", one).json()["backlog"] == 0


def test_replay_from_n_delivers_n_onwards_again_in_order(
    vendor, scim, insecure, receiver, django_capture_on_commit_callbacks
):
    created = vendor("post", ENDPOINTS, {"url": receiver.url}).json()
    write_users(scim, django_capture_on_commit_callbacks, ["ada", "bob", "cy"])
    run_tasks()
    first = [item.json["sequence"] for item in receiver.received]
    assert len(first) == 3
    replay = f"{ENDPOINTS}{created['id']}/replay/"
    with django_capture_on_commit_callbacks(execute=True):
        response = vendor("post", replay, {"connection": str(scim.connection.pk), "from": first[1]})
    assert response.status_code == 202
    assert response.json() == {"connection": str(scim.connection.pk), "from": first[1]}
    run_tasks()
    assert [item.json["sequence"] for item in receiver.received[3:]] == first[1:]
    bad = vendor("post", replay, {"connection": str(scim.connection.pk), "from": 0})
    assert bad.status_code == 400 and "from" in bad.json()
    unknown = vendor(
        "post", replay, {"connection": "0190e0e0-0000-7000-8000-000000000000", "from": 1}
    )
    assert unknown.status_code == 400
    assert unknown.json() == {"non_field_errors": ["No such connection."]}


def test_deliveries_page_and_filter(vendor, setup, insecure, receiver):
    answers = iter([(500, b"boom"), (200, b"ok"), (200, b"ok")])
    receiver.answer = lambda item: next(answers)
    created = vendor("post", ENDPOINTS, {"url": receiver.url}).json()
    for _ in range(3):
        vendor("post", f"{ENDPOINTS}{created['id']}/test/")
    endpoint = WebhookEndpoint.objects.get()
    DeliveryAttempt.objects.create(
        endpoint=endpoint, connection_id=setup["connection"].pk, event_number=4,
        event_type="user.created", outcome="delivered", status_code=200,
    )  # fmt: skip
    log = f"{ENDPOINTS}{created['id']}/deliveries/"
    ids, page = [], f"{log}?limit=2"
    while page:
        body = vendor("get", page).json()
        ids += [row["id"] for row in body["results"]]
        page = body["next"]
    assert ids == sorted(ids, reverse=True) and len(ids) == 4
    tests = vendor("get", log, {"outcome": "test"}).json()["results"]
    assert [row["status_code"] for row in tests] == [200, 200, 500]
    assert tests[-1]["response_excerpt"] == "boom" and tests[-1]["error"] == "answered 500"
    mine = vendor("get", log, {"connection": str(setup["connection"].pk)}).json()["results"]
    assert [row["event_number"] for row in mine] == [4]
    assert vendor("get", log, {"outcome": "lost"}).status_code == 400
    assert vendor("get", log, {"connection": "nope"}).status_code == 400


def test_delete_then_unknown_ids_are_json_404(vendor):
    endpoint, _ = endpoints.add_endpoint(url="https://hooks.example.com/in")
    one = f"{ENDPOINTS}{endpoint.pk}/"
    assert vendor("delete", one).status_code == 204
    assert not WebhookEndpoint.objects.exists()
    for url in (one, one + "deliveries/", f"{ENDPOINTS}not-an-id/"):
        response = vendor("get", url)
        assert response.status_code == 404 and response["Content-Type"] == "application/json"


def test_changes_are_audited_with_the_key_name(vendor, caplog):
    with caplog.at_level("INFO", logger="scim_portal.audit"):
        created = vendor("post", ENDPOINTS, {"url": "https://hooks.example.com/in"}).json()
        vendor("patch", f"{ENDPOINTS}{created['id']}/", {"description": "seats"})
        vendor("post", f"{ENDPOINTS}{created['id']}/rotate-secret/")
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 3
    assert all("by environment key CI automation" in line for line in lines)
    assert not any("whsec_" in line for line in lines)
