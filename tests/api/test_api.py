"""The management API: permission matrix, one-time tokens, directory and events."""

import re

import pytest
from django.test import Client
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema

from scim_portal.api.docs import build_schema
from scim_portal.models import Connection, Credential, EnvironmentKey
from scim_portal.provisioning import directory
from tests.testapp.models import OrganizationMembership

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def env_key(db):
    _key, raw = EnvironmentKey.issue("CI automation")
    return raw


def call(client, method, url, data=None, key=None):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    if method == "get":
        return client.get(url, data or {}, **extra)
    return getattr(client, method)(url, data or {}, content_type="application/json", **extra)


def as_person(setup, who):
    client = Client()
    if who != "anonymous":
        client.force_login(setup["people"][who])
    return client


def urls(setup):
    c = f"{API}/accounts/acme/connections/{setup['connection'].pk}/"
    new = {"name": "X", "provider": "okta"}
    return {
        "list": ("get", f"{API}/accounts/acme/connections/", None, "read"),
        "retrieve": ("get", c, None, "read"),
        "tokens": ("get", c + "tokens/", None, "read"),
        "users": ("get", c + "users/", None, "read"),
        "groups": ("get", c + "groups/", None, "read"),
        "events": ("get", c + "events/", None, "read"),
        "create": ("post", f"{API}/accounts/acme/connections/", new, "create"),
        "rotate": ("post", c + "tokens/", {"label": "r"}, "create"),
        "revoke": ("post", c + f"tokens/{setup['token'].pk}/revoke/", None, "delete"),
        "delete": ("delete", c, None, "delete"),
    }  # fmt: skip


@pytest.mark.parametrize("who", ["admin", "auditor", "member", "other_admin", "anonymous", "env"])
@pytest.mark.parametrize(
    "endpoint",
    [
        "list",
        "retrieve",
        "tokens",
        "users",
        "groups",
        "events",
        "create",
        "rotate",
        "revoke",
        "delete",
    ],
)
def test_permission_matrix(setup, env_key, who, endpoint):
    method, url, data, needed = urls(setup)[endpoint]
    client = Client() if who == "env" else as_person(setup, who)
    response = call(client, method, url, data, key=env_key if who == "env" else None)
    allowed = who in {"admin", "env"} or (who == "auditor" and needed == "read")
    if who == "anonymous":
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
    elif allowed:
        assert response.status_code in (200, 201, 204), response.content
    else:
        assert response.status_code == 403
    assert response.status_code == 204 or response["Content-Type"].startswith("application/json")


def test_all_connections_needs_an_environment_key(setup, env_key):
    admin = as_person(setup, "admin")
    assert call(admin, "get", f"{API}/connections/").status_code == 403
    body = call(Client(), "get", f"{API}/connections/", key=env_key).json()
    assert {row["account"] for row in body["results"]} == {"acme", "globex"}
    only = call(Client(), "get", f"{API}/connections/", {"account": "globex"}, key=env_key).json()
    assert [row["name"] for row in only["results"]] == ["Theirs"]


def test_revoked_or_wrong_environment_key_is_401(setup, env_key):
    EnvironmentKey.objects.get().revoke()
    assert call(Client(), "get", f"{API}/connections/", key=env_key).status_code == 401
    assert call(Client(), "get", f"{API}/connections/", key="scimpenv_nope").status_code == 401


def test_vendor_script_create_hand_over_list_delete(setup, env_key):
    client = Client()
    created = call(client, "post", f"{API}/accounts/globex/connections/",
                   {"name": "Okta", "provider": "okta"}, key=env_key)  # fmt: skip
    assert created.status_code == 201
    body = created.json()
    assert body["scim_url"].endswith(f"/scim/v2/{body['id']}")
    assert body["status"]["key"] == "waiting"
    token = body["token"]
    assert (
        client.get(f"/scim/v2/{body['id']}/Users", HTTP_AUTHORIZATION=f"Bearer {token}").status_code
        == 200
    )
    connection_url = f"{API}/accounts/globex/connections/{body['id']}/"
    for url in (connection_url, connection_url + "tokens/", f"{API}/connections/"):
        text = call(client, "get", url, key=env_key).content.decode()
        assert token not in text and '"token"' not in text
    event = call(client, "get", connection_url + "events/", key=env_key).json()["events"][0]
    assert event["type"] == "connection.created"
    assert event["actor"]["type"] == "environment_key" and event["actor"]["name"] == "CI automation"
    assert call(client, "delete", connection_url, key=env_key).status_code == 204
    assert not Connection.objects.filter(pk=body["id"]).exists()


def test_rotate_returns_the_new_token_once_and_revoke_stops_the_old(setup):
    admin = as_person(setup, "admin")
    connection = setup["connection"]
    base = f"{API}/accounts/acme/connections/{connection.pk}/tokens/"
    issued = call(admin, "post", base, {"label": "2026"}).json()
    assert issued["token"].startswith("scimp_") and issued["label"] == "2026"
    listed = call(admin, "get", base).json()
    assert all("token" not in row for row in listed) and len(listed) == 2
    revoked = call(admin, "post", base + f"{setup['token'].pk}/revoke/").json()
    assert revoked["is_usable"] is False and revoked["revoked_at"]
    assert Credential.objects.by_value(issued["token"]) is not None


def test_invalid_input_is_a_400_with_field_errors(setup):
    admin = as_person(setup, "admin")
    response = call(
        admin, "post", f"{API}/accounts/acme/connections/", {"name": " ", "provider": "x"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"name", "provider"}
    base = f"{API}/accounts/acme/connections/{setup['connection'].pk}/"
    past = call(admin, "post", base + "tokens/", {"expires_at": "2001-01-01T00:00:00Z"})
    assert past.status_code == 400 and "expires_at" in past.json()
    assert call(admin, "delete", base + "?remove_directory=maybe").status_code == 400
    assert call(admin, "get", base + "events/", {"after": "-1"}).status_code == 400


def test_unknown_ids_and_accounts_are_json_404(setup, env_key):
    admin = as_person(setup, "admin")
    other = setup["other_connection"].pk
    assert call(admin, "get", f"{API}/accounts/acme/connections/{other}/").status_code == 404
    assert call(admin, "get", f"{API}/accounts/nope/connections/").status_code == 404
    missing = call(admin, "get", f"{API}/nothing/here/")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}


def test_delete_keeping_the_directory(setup, env_key):
    host = setup["user"].host_user
    url = f"{API}/accounts/acme/connections/{setup['connection'].pk}/?remove_directory=false"
    assert call(Client(), "delete", url, key=env_key).status_code == 204
    assert OrganizationMembership.objects.get(user=host).is_active is True


def test_directory_endpoints_page_with_a_cursor(setup, env_key):
    connection = setup["connection"]
    for i in range(5):
        directory.create_user(connection, {"userName": f"page{i}@example.com"})
    url = f"{API}/accounts/acme/connections/{connection.pk}/users/"
    seen, next_url = [], url + "?limit=2"
    while next_url:
        body = call(Client(), "get", next_url, key=env_key).json()
        seen += [row["user_name"] for row in body["results"]]
        next_url = body["next"]
    assert len(seen) == 6 and len(set(seen)) == 6
    groups = call(Client(), "get", url.replace("users", "groups"), key=env_key).json()
    assert groups["results"][0]["member_count"] == 1


def test_events_page_with_after(setup, env_key):
    connection = setup["connection"]
    for i in range(7):
        directory.create_user(connection, {"userName": f"ev{i}@example.com"})
    url = f"{API}/accounts/acme/connections/{connection.pk}/events/"
    numbers, after = [], 0
    while True:
        body = call(Client(), "get", url, {"after": after, "limit": 3}, key=env_key).json()
        numbers += [event["number"] for event in body["events"]]
        after = body["next_after"]
        if not body["has_more"]:
            break
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 12


def test_openapi_schema_is_valid_and_generated_without_warnings(settings):
    GENERATOR_STATS.reset()
    schema = build_schema()
    validate_schema(schema)
    assert not GENERATOR_STATS, dict(GENERATOR_STATS._warn_cache)
    assert "/accounts/{account}/connections/" in schema["paths"]
    assert "environmentKey" in schema["components"]["securitySchemes"]


def test_docs_page_and_schema_endpoint(client, db):
    page = client.get(f"{API}/docs/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "/accounts/{account}/connections/" in text
    assert "django-scim-portal management API" in text
    assert not re.search(r"<script(?![^>]*\bsrc=)", text)
    assert client.get(f"{API}/schema/").json()["openapi"].startswith("3.")
