"""The management API: permission matrix, one-time tokens, directory and events."""

import re

import pytest
from django.test import Client

from scim_portal.models import Connection, Credential, EnvironmentKey
from scim_portal.provisioning import directory
from tests.scim_client import basic_auth
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
        "credentials": ("get", c + "credentials/", None, "read"),
        "issue": ("post", c + "credentials/", {"kind": "basic"}, "create"),
        "revoke-credential": (
            "post", c + f"credentials/{setup['token'].pk}/revoke/", None, "delete",
        ),
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
        "credentials",
        "issue",
        "revoke-credential",
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


def test_an_entra_connection_gives_the_url_to_paste_beside_the_bare_one(setup, env_key):
    client = Client()
    body = call(client, "post", f"{API}/accounts/globex/connections/",
                {"name": "Entra", "provider": "entra"}, key=env_key).json()  # fmt: skip
    assert body["scim_url"] == f"http://testserver/scim/v2/{body['id']}"
    assert body["setup_url"] == body["scim_url"] + "?aadOptscim062020"
    shown = call(client, "get", f"{API}/accounts/globex/connections/{body['id']}/", key=env_key)
    assert shown.json()["setup_url"] == body["setup_url"]


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


def test_docs_page_and_schema_endpoint(client, db):
    page = client.get(f"{API}/docs/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "/api/v1/accounts/{account}/connections/" in text
    assert "django-scim-portal management API" in text
    assert not re.search(r"<script(?![^>]*\bsrc=)", text)
    assert client.get(f"{API}/schema/").json()["openapi"].startswith("3.")


# Credentials of every kind


def credentials_url(setup, account="acme"):
    return f"{API}/accounts/{account}/connections/{setup['connection'].pk}/credentials/"


def basic_header(user, password):
    return basic_auth(user, password)


def test_issue_each_kind_returns_its_secret_once_and_it_works(setup, env_key):
    client = Client()
    url = credentials_url(setup)
    scim = f"/scim/v2/{setup['connection'].pk}/Users"

    bearer = call(client, "post", url, {"kind": "bearer", "label": "Okta"}, key=env_key)
    assert bearer.status_code == 201 and "no-store" in bearer["Cache-Control"]
    body = bearer.json()
    assert body["kind"] == "bearer" and body["label"] == "Okta" and body["state"] == "active"
    assert not {"password", "client_secret", "client_id"} & set(body)
    assert client.get(scim, HTTP_AUTHORIZATION=f"Bearer {body['token']}").status_code == 200

    basic = call(client, "post", url, {"kind": "basic"}, key=env_key).json()
    assert basic["username"].startswith("scimu_") and basic["display"] == basic["username"]
    assert not {"token", "client_secret"} & set(basic)
    header = basic_header(basic["username"], basic["password"])
    assert client.get(scim, HTTP_AUTHORIZATION=header).status_code == 200

    issued = call(client, "post", url, {"kind": "client_secret"}, key=env_key)
    assert "no-store" in issued["Cache-Control"]
    secret = issued.json()
    assert secret["token_endpoint"] == "http://testserver/scim/oauth/token"
    assert secret["client_id"].startswith("scimc_") and "password" not in secret
    token = client.post(
        "/scim/oauth/token",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_header(secret["client_id"], secret["client_secret"]),
        secure=True,
    ).json()
    assert client.get(scim, HTTP_AUTHORIZATION=f"Bearer {token['access_token']}").status_code == 200

    federated = call(client, "post", url, {
        "kind": "federated", "issuer": "https://login.microsoftonline.com/t/v2.0",
        "subject": "app-object-id", "audience": "api://scim",
    }, key=env_key).json()  # fmt: skip
    assert federated["client_id"] == secret["client_id"]
    assert federated["token_endpoint"] == secret["token_endpoint"]
    assert (federated["issuer"], federated["display"]) == (
        "https://login.microsoftonline.com/t/v2.0",
        "app-object-id",
    )
    assert not {"token", "password", "client_secret"} & set(federated)

    listed = call(client, "get", url, key=env_key)
    text = listed.content.decode()
    for raw in (body["token"], basic["password"], secret["client_secret"], token["access_token"]):
        assert raw not in text
    assert sorted(row["kind"] for row in listed.json()) == [
        "basic", "bearer", "bearer", "client_secret", "federated",
    ]  # fmt: skip
    tokens = call(client, "get", url.replace("credentials/", "tokens/"), key=env_key).json()
    assert len(tokens) == 2  # the tokens endpoint lists bearer tokens only

    detail = call(client, "get", url.replace("credentials/", ""), key=env_key).json()
    assert detail["oauth_client_id"] == secret["client_id"]
    assert detail["access_token_lifetime"] == 3600
    assert detail["token_endpoint"] == "http://testserver/scim/oauth/token"


def test_issue_and_revoke_are_events_of_the_api_actor(setup, env_key):
    from scim_portal.models import AccessToken, ProvisioningEvent

    client = Client()
    url = credentials_url(setup)
    secret = call(client, "post", url, {"kind": "client_secret"}, key=env_key).json()
    access = client.post(
        "/scim/oauth/token",
        {"grant_type": "client_credentials", "client_id": secret["client_id"],
         "client_secret": secret["client_secret"]},
        secure=True,
    ).json()["access_token"]  # fmt: skip
    revoked = call(client, "post", url + f"{secret['id']}/revoke/", key=env_key)
    assert revoked.status_code == 200
    assert revoked.json()["state"] == "revoked" and revoked.json()["is_usable"] is False
    scim = f"/scim/v2/{setup['connection'].pk}/Users"
    assert client.get(scim, HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401
    assert AccessToken.objects.get().revoked_at is not None
    issued_event, revoked_event = ProvisioningEvent.objects.filter(
        connection=setup["connection"], type__startswith="credential."
    ).order_by("number")
    assert (issued_event.type, revoked_event.type) == ("credential.issued", "credential.revoked")
    for event in (issued_event, revoked_event):
        assert event.actor == {"type": "environment_key", "name": "CI automation",
                               "prefix": EnvironmentKey.objects.get().prefix}  # fmt: skip
        assert event.changes["kind"] == "client_secret"

    admin = as_person(setup, "admin")
    call(admin, "post", url, {"kind": "basic"})
    event = ProvisioningEvent.objects.filter(type="credential.issued").latest("number")
    assert event.actor["type"] == "user" and event.actor["via"] == "api"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "authorization"}, "kind"),
        ({"kind": "nope"}, "kind"),
        ({}, "kind"),
        ({"kind": "federated", "issuer": "https://idp.example"}, "subject"),
        ({"kind": "federated", "subject": "s", "audience": "a"}, "issuer"),
        ({"kind": "bearer", "issuer": "https://idp.example"}, "issuer"),
        ({"kind": "basic", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        (
            {"kind": "federated", "issuer": "http://idp.example", "subject": "s",
             "audience": "a"},
            "non_field_errors",
        ),
    ],
)  # fmt: skip
def test_issue_refuses_bad_input_with_field_errors(setup, data, field):
    from scim_portal.models import Credential as CredentialModel

    admin = as_person(setup, "admin")
    before = CredentialModel.objects.count()
    response = call(admin, "post", credentials_url(setup), data)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert CredentialModel.objects.count() == before


def test_credentials_of_another_connection_are_404(setup, env_key):
    client = Client()
    theirs = Credential.objects.get(connection=setup["other_connection"])
    response = call(client, "post", credentials_url(setup) + f"{theirs.pk}/revoke/", key=env_key)
    assert response.status_code == 404
    assert Credential.objects.get(pk=theirs.pk).is_usable
    basic = call(client, "post", credentials_url(setup), {"kind": "basic"}, key=env_key).json()
    token_url = credentials_url(setup).replace("credentials/", "tokens/")
    assert (
        call(client, "post", token_url + f"{basic['id']}/revoke/", key=env_key).status_code == 404
    )
    assert Credential.objects.get(pk=basic["id"]).is_usable  # tokens/ revokes bearer tokens only


def test_secret_responses_are_never_cached(setup):
    admin = as_person(setup, "admin")
    base = f"{API}/accounts/acme/connections/"
    created = call(admin, "post", base, {"name": "New", "provider": "okta"})
    assert "no-store" in created["Cache-Control"]
    rotated = call(admin, "post", base + f"{setup['connection'].pk}/tokens/", {})
    assert "no-store" in rotated["Cache-Control"]
