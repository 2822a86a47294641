import pytest

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
