import pytest

from scim_portal.provisioning import create_connection, issue_credential, revoke_credential
from tests.scim_client import basic_auth

pytestmark = pytest.mark.django_db

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_service_provider_config_tells_the_truth(scim):
    response = scim.get("/ServiceProviderConfig")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    assert body["patch"] == {"supported": True}
    assert body["filter"] == {"supported": True, "maxResults": 1000}
    assert body["bulk"] == {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1048576}
    assert body["sort"]["supported"] is True and body["etag"]["supported"] is True
    assert body["changePassword"]["supported"] is False
    assert body["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert body["meta"]["location"].endswith("/ServiceProviderConfig")


def test_resource_types_list_and_by_name(scim):
    body = scim.get("/ResourceTypes").json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    by_id = {item["id"]: item for item in body["Resources"]}
    assert by_id["User"]["endpoint"] == "/Users"
    assert by_id["User"]["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    assert by_id["Group"]["endpoint"] == "/Groups"
    assert scim.get("/ResourceTypes/Group").json()["schema"].endswith("core:2.0:Group")
    assert scim.get("/ResourceTypes/Nope").status_code == 404


def test_schemas_list_and_by_id(scim):
    body = scim.get("/Schemas").json()
    ids = {item["id"] for item in body["Resources"]}
    assert {"urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE} <= ids
    user = scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json()
    names = {attribute["name"] for attribute in user["attributes"]}
    assert {"userName", "emails", "active", "name"} <= names
    assert scim.get("/Schemas/urn:nope").status_code == 404


def test_declared_extension_appears_is_stored_returned_and_filterable(scim, settings):
    settings.SCIM_PORTAL = {
        **settings.SCIM_PORTAL,
        "USER_EXTENSIONS": ["scim2_models.EnterpriseUser", "tests.testapp.scim.BadgeExtension"],
    }
    urn = "urn:example:params:scim:schemas:extension:badge:2.0:User"
    ids = {item["id"] for item in scim.get("/Schemas").json()["Resources"]}
    assert urn in ids
    created = scim.create_user("ext@example.com", **{urn: {"badgeNumber": "B-7", "floor": 3}})
    assert created[urn] == {"badgeNumber": "B-7", "floor": 3}
    assert urn in created["schemas"]
    found = scim.get("/Users", filter=f'{urn}:badgeNumber eq "b-7"').json()
    assert found["totalResults"] == 1
    assert scim.get("/Users", filter=f"{urn}:floor gt 2").json()["totalResults"] == 1
    assert scim.get("/Users", filter=f"{urn}:floor gt 3").json()["totalResults"] == 0


def schemes_of(client, connection, authorization):
    response = client.get(
        f"/scim/v2/{connection.pk}/ServiceProviderConfig", HTTP_AUTHORIZATION=authorization
    )
    assert response.status_code == 200, response.content
    return response.json()["authenticationSchemes"]


def basic_header(issued):
    return basic_auth(issued.credential.username, issued.raw)


def access_token(client, connection, secret):
    response = client.post(
        "/scim/oauth/token",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(connection.oauth_client_id, secret),
        secure=True,
    )
    return "Bearer " + response.json()["access_token"]


def test_a_bearer_token_connection_offers_the_bearer_scheme_only(client, scim):
    schemes = schemes_of(client, scim.connection, f"Bearer {scim.token}")
    assert [(s["type"], s.get("primary")) for s in schemes] == [("oauthbearertoken", True)]
    assert "bearer token of this connection" in schemes[0]["description"]
    assert "token endpoint" not in schemes[0]["description"]
    assert schemes[0]["specUri"] == "https://www.rfc-editor.org/info/rfc6750"


def test_a_client_credentials_connection_names_its_token_endpoint(client, organization):
    connection, secret = create_connection(
        account=organization, name="E", provider="entra", credential_kind="client_secret"
    )
    schemes = schemes_of(client, connection, access_token(client, connection, secret.raw))
    assert [(s["type"], s.get("primary")) for s in schemes] == [("oauthbearertoken", True)]
    description = schemes[0]["description"]
    assert "http://testserver/scim/oauth/token" in description
    assert "client secret" in description and "bearer token of this" not in description


def test_basic_and_bearer_are_both_listed_the_bearer_first(client, scim):
    basic = issue_credential(scim.connection, "basic")
    for authorization in (f"Bearer {scim.token}", basic_header(basic)):
        schemes = schemes_of(client, scim.connection, authorization)
        assert [(s["type"], s.get("primary")) for s in schemes] == [
            ("oauthbearertoken", True),
            ("httpbasic", None),
        ]
        assert schemes[1]["specUri"] == "https://www.rfc-editor.org/info/rfc7617"


def test_a_basic_only_connection_offers_basic_only(client, organization):
    connection, basic = create_connection(
        account=organization, name="O", provider="okta", credential_kind="basic"
    )
    schemes = schemes_of(client, connection, basic_header(basic))
    assert [(s["type"], s.get("primary")) for s in schemes] == [("httpbasic", True)]


def test_revoking_the_last_basic_credential_drops_the_scheme(client, scim):
    basic = issue_credential(scim.connection, "basic")
    assert len(schemes_of(client, scim.connection, f"Bearer {scim.token}")) == 2
    revoke_credential(basic.credential)
    schemes = schemes_of(client, scim.connection, f"Bearer {scim.token}")
    assert [s["type"] for s in schemes] == ["oauthbearertoken"]
