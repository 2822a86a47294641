"""The OpenAPI document of the management API is honest: valid, complete (a summary,
description and tag per operation, a description per field and parameter, examples that
match their schemas), its ``servers`` and full paths lead to the API wherever the host
mounted the app, and a client that knows only the document creates and lists connections
over real HTTP.
"""

import re
import uuid
from urllib.parse import urlsplit

import pytest
import requests
from django.urls import resolve
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.settings import spectacular_settings
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator
from openapi_spec_validator import validate

from scim_portal.api.schema import TAGS, build_schema
from scim_portal.models import EnvironmentKey
from tests.factories import OrganizationFactory
from tests.openapi_client import OpenApiClient

pytestmark = pytest.mark.django_db

#: Generated clients name their methods after these: renaming one breaks them.
OPERATION_IDS = {
    "list_all_connections", "list_connections", "create_connection", "get_connection",
    "delete_connection", "preview_connection_deletion",
    "list_credentials", "issue_credential", "revoke_credential",
    "list_tokens", "issue_token", "revoke_token",
    "list_directory_users", "list_directory_groups",
    "list_connection_events", "list_account_events",
    "list_held_removals", "preview_held_removals", "approve_held_removals",
    "reject_held_removals", "list_deleted_users", "restore_deleted_user",
    "get_drift_report", "export_drift_csv", "fix_drift_row",
    "list_domains", "add_domain", "get_domain", "remove_domain", "verify_domain",
    "list_webhook_endpoints", "add_webhook_endpoint", "get_webhook_endpoint",
    "update_webhook_endpoint", "delete_webhook_endpoint", "rotate_webhook_secret",
    "send_webhook_test", "replay_webhook_events", "list_webhook_deliveries",
}  # fmt: skip

#: A value for each path parameter, of the type its URL converter takes.
PATH_VALUES = {
    "account": "acme",
    "connection_id": str(uuid.UUID(int=1)),
    "credential_id": "3",
    "token_id": "4",
    "user_id": str(uuid.UUID(int=2)),
    "domain_id": "5",
    "endpoint_id": str(uuid.UUID(int=3)),
    "action": "reapply",
}


def served(client, prefix="", **headers):
    response = client.get(f"{prefix}/api/v1/schema/", **headers)
    assert response.status_code == 200
    return response.json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_served_document_is_valid_openapi_built_without_warnings(client):
    GENERATOR_STATS.reset()
    schema = served(client)
    validate(schema)
    assert not GENERATOR_STATS, dict(GENERATOR_STATS._warn_cache)
    assert schema["openapi"].startswith("3.0")
    assert schema["components"]["securitySchemes"].keys() == {"environmentKey", "cookieAuth"}


def test_every_operation_has_a_summary_a_description_a_tag_and_a_stable_id(client):
    schema = served(client)
    found = []
    for path, method, operation in operations(schema):
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert len(operation.get("description", "")) > len(operation["summary"]), where
        assert not re.search(r"``|A view under|:class:|:func:", operation["description"]), where
        assert len(operation["tags"]) == 1 and operation["tags"][0] in TAGS, where
        assert operation.get("security"), where  # no operation is anonymous
        for parameter in operation.get("parameters", []):
            assert parameter.get("description"), (where, parameter["name"])
        for code, response in operation["responses"].items():
            assert response.get("description"), (where, code)
        found.append(operation["operationId"])
    assert len(found) == len(set(found))
    assert set(found) == OPERATION_IDS
    assert [tag["name"] for tag in schema["tags"]] == list(TAGS)
    assert all(tag["description"] for tag in schema["tags"])


def described(schema):
    """A property's own description, or that of the ``allOf`` wrapper of a ``$ref``."""
    return bool(schema.get("description"))


def test_every_field_has_a_description(client):
    schema = served(client)
    missing = [
        f"{name}.{field}"
        for name, component in schema["components"]["schemas"].items()
        for field, definition in component.get("properties", {}).items()
        if not described(definition)
    ]
    assert missing == []
    for name, scheme in schema["components"]["securitySchemes"].items():
        assert scheme.get("description"), name


def test_the_main_operations_have_examples_that_match_their_schemas(client):
    schema = served(client)
    checked = set()
    for _path, _method, operation in operations(schema):
        bodies = [("request", operation.get("requestBody", {}).get("content", {}))]
        bodies += [(code, r.get("content", {})) for code, r in operation["responses"].items()]
        for where, content in bodies:
            for media in content.values():
                validator = OAS30WriteValidator if where == "request" else OAS30ReadValidator
                rooted = {**media["schema"], "components": schema["components"]}
                for name, example in media.get("examples", {}).items():
                    errors = list(
                        validator(rooted, format_checker=validator.FORMAT_CHECKER).iter_errors(
                            example["value"]
                        )
                    )
                    assert not errors, (operation["operationId"], where, name, errors[0].message)
                    checked.add((operation["operationId"], where))
    for operation_id in ("create_connection", "issue_credential", "issue_token", "add_domain"):
        assert (operation_id, "request") in checked
    for operation_id, code in [
        ("create_connection", "201"), ("list_connections", "200"), ("get_connection", "200"),
        ("list_all_connections", "200"), ("issue_credential", "201"), ("issue_token", "201"),
        ("add_domain", "201"), ("verify_domain", "200"), ("list_connection_events", "200"),
    ]:  # fmt: skip
        assert (operation_id, code) in checked


def test_an_example_that_does_not_match_its_schema_is_caught(client):
    """The examples test can fail: a connection example without its scim_url does."""
    schema = served(client)
    media = schema["paths"]["/api/v1/accounts/{account}/connections/"]["post"]["responses"]
    example = media["201"]["content"]["application/json"]["examples"]["Created"]["value"]
    broken = {key: value for key, value in example.items() if key != "scim_url"}
    rooted = {"$ref": "#/components/schemas/CreatedConnection", "components": schema["components"]}
    assert list(OAS30ReadValidator(rooted).iter_errors(broken))


def resolve_everything(schema):
    """Each operation's URL, joined to the server, resolves to that API view."""
    server = schema["servers"][0]["url"]
    for path, method, _operation in operations(schema):
        url = server + path.format(**PATH_VALUES)
        match = resolve(urlsplit(url).path)
        assert match.namespaces[-2:] == ["scim_portal", "api"], (path, match.view_name)
        assert match.url_name != "not-found", path
        view = match.func.cls
        assert hasattr(view, method), (path, method)


def test_servers_and_full_paths_when_mounted_at_the_root(client, settings):
    schema = served(client)
    assert schema["servers"][0]["url"] == "https://saas.example.test"  # PUBLIC_URL
    assert all(path.startswith("/api/v1/") for path in schema["paths"])
    resolve_everything(schema)
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "PUBLIC_URL": None}
    # Never the request's host, which a client (or a proxy's X-Forwarded-Host) chooses.
    assert served(client, HTTP_HOST="evil.example.test")["servers"][0]["url"] == "/"


@pytest.mark.urls("tests.urls_prefixed")
def test_servers_and_full_paths_when_mounted_under_a_prefix(client):
    schema = served(client, "/saas")
    assert all(path.startswith("/saas/api/v1/") for path in schema["paths"])
    resolve_everything(schema)
    page = client.get("/saas/api/v1/docs/").content.decode()
    assert "/saas/api/v1/accounts/{account}/connections/" in page
    assert "https://saas.example.test" in page


def test_the_hosts_spectacular_settings_do_not_change_the_document(monkeypatch):
    before = build_schema()
    for key, value in {
        "COMPONENT_SPLIT_REQUEST": True,
        "SCHEMA_PATH_PREFIX_INSERT": "/host",
        "SCHEMA_PATH_PREFIX_TRIM": True,
        "CAMELIZE_NAMES": True,
        "POSTPROCESSING_HOOKS": [],
    }.items():
        monkeypatch.setattr(spectacular_settings, key, value)
    assert build_schema() == before


def test_the_docs_page_groups_operations_by_tag(client):
    page = client.get("/api/v1/docs/").content.decode()
    assert [page.index(f">{tag}</h2>") for tag in TAGS] == sorted(
        page.index(f">{tag}</h2>") for tag in TAGS
    )
    assert 'id="create_connection"' in page
    assert "<code>POST /api/v1/accounts/{account}/connections/</code>" in page
    assert "A view under" not in page


# A client that knows only the document, over real HTTP


@pytest.fixture
def acme(db):
    return OrganizationFactory(handle="acme")


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param("", id="root"),
        pytest.param("/saas", marks=pytest.mark.urls("tests.urls_prefixed"), id="prefix"),
    ],
)
def test_a_client_driven_by_the_document_creates_and_lists_connections(
    live_server, settings, acme, prefix
):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "PUBLIC_URL": None}
    key = EnvironmentKey.issue("Vendor backend")[1]
    api = OpenApiClient(
        f"{live_server.url}{prefix}/api/v1/schema/", {"Authorization": f"Bearer {key}"}
    )
    assert api.server == live_server.url + "/"  # the document's "/" joined to where it is

    okta = api.call(
        "create_connection", account="acme", body={"name": "Okta production", "provider": "okta"}
    )
    entra = api.call(
        "create_connection", account="acme", body={"name": "Entra", "provider": "entra"}
    )
    assert okta.status == entra.status == 201
    assert okta.headers["Cache-Control"] == "no-store"
    scim_url = f"{live_server.url}{prefix}/scim/v2/{okta.body['id']}"
    assert okta.body["scim_url"] == okta.body["setup_url"] == scim_url
    assert entra.body["setup_url"] == entra.body["scim_url"] + "?aadOptscim062020"

    listed = api.call("list_connections", account="acme")
    assert listed.status == 200
    rows = {row["id"]: row for row in listed.body["results"]}
    assert rows.keys() == {okta.body["id"], entra.body["id"]}
    for created in (okta, entra):
        for field in ("scim_url", "setup_url", "name", "provider"):
            assert rows[created.body["id"]][field] == created.body[field]
        assert "token" not in rows[created.body["id"]]
    everywhere = api.call("list_all_connections", query={"account": "acme"})
    assert {row["id"] for row in everywhere.body["results"]} == rows.keys()
    one = api.call("get_connection", account="acme", connection_id=okta.body["id"])
    assert one.body["setup_url"] == scim_url

    # The URL and token it handed over provision, under the same mount point.
    users = requests.get(
        okta.body["scim_url"] + "/Users",
        headers={"Authorization": f"Bearer {okta.body['token']}"},
        timeout=30,
    )
    assert users.status_code == 200 and users.json()["totalResults"] == 0
    # More of what a vendor's backend does, each answer checked against the document.
    secret = api.call(
        "issue_credential",
        account="acme",
        connection_id=entra.body["id"],
        body={"kind": "client_secret", "label": "Entra"},
    )
    assert secret.status == 201 and secret.body["client_secret"].startswith("scimcs_")
    assert secret.body["token_endpoint"] == f"{live_server.url}{prefix}/scim/oauth/token"
    kinds = api.call("list_credentials", account="acme", connection_id=entra.body["id"])
    assert sorted(row["kind"] for row in kinds.body) == ["bearer", "client_secret"]
    domain = api.call("add_domain", account="acme", body={"domain": "acme.example"})
    assert domain.status == 201 and domain.body["verification_method"] == ""
    assert api.call("list_domains", account="acme").body[0]["domain"] == "acme.example"
    events = api.call(
        "list_connection_events", account="acme", connection_id=okta.body["id"], query={"after": 0}
    )
    assert [e["type"] for e in events.body["events"]] == ["connection.created", "token.issued"]
    # Errors are documented answers too.
    missing = api.call("get_connection", account="acme", connection_id=str(uuid.UUID(int=9)))
    assert missing.status == 404 and missing.body["detail"]
