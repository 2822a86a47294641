"""Okta's and Entra ID's provisioning flows, replayed from their documented payloads."""

import pytest

from tests.scim_client import load_fixture

pytestmark = pytest.mark.django_db

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


# Okta


def test_okta_test_api_credentials_and_spec_checks(scim):
    listing = scim.get("/Users", count=1, startIndex=1)
    assert listing.status_code == 200
    assert listing.json()["totalResults"] == 0 and listing.json()["Resources"] == []

    created = scim.post(
        "/Users", load_fixture("okta/create_user.json"), content_type="application/json"
    )
    assert created.status_code == 201
    user = created.json()
    assert user["active"] is True
    assert user["name"] == {"givenName": "Test", "familyName": "User"}
    assert "password" not in user
    assert user.get("groups", []) == []

    again = scim.post(
        "/Users", load_fixture("okta/create_user.json"), content_type="application/json"
    )
    assert again.status_code == 409

    shouting = scim.get("/Users", filter='userName eq "TEST.USER@EXAMPLE.COM"').json()
    assert shouting["totalResults"] == 1
    page = scim.get("/Users", count=1, startIndex=1).json()
    resource = page["Resources"][0]
    assert {"id", "userName", "active", "emails", "name"} <= set(resource)
    assert (
        scim.get("/Users", filter='userName eq "nobody-ever@example.com"').json()["totalResults"]
        == 0
    )
    assert scim.get("/Users/010101001010101011001010101011").status_code == 404
    assert scim.get("/Groups").status_code == 200


def test_okta_profile_update_by_put_and_deactivate_reactivate(scim):
    user = scim.post("/Users", load_fixture("okta/create_user.json")).json()
    put = scim.put(f"/Users/{user['id']}", load_fixture("okta/put_user.json", user_id=user["id"]))
    assert put.status_code == 200
    assert put.json()["displayName"] == "Another User"
    assert put.json()["id"] == user["id"]

    off = scim.patch(f"/Users/{user['id']}", load_fixture("okta/deactivate_user.json"))
    assert off.status_code == 200 and off.json()["active"] is False
    assert scim.get(f"/Users/{user['id']}").json()["active"] is False
    on = scim.patch(f"/Users/{user['id']}", load_fixture("okta/reactivate_user.json"))
    assert on.json()["active"] is True


def test_okta_group_push(scim):
    kept = scim.create_user("kept@example.com")["id"]
    leaving = scim.create_user("leaving@example.com")["id"]
    added = scim.create_user("added@example.com")["id"]
    group = scim.post("/Groups", load_fixture("okta/create_group.json")).json()
    gid = group["id"]

    scim.patch_ops(f"/Groups/{gid}", {"op": "add", "path": "members",
                                      "value": [{"value": kept}, {"value": leaving}]})  # fmt: skip
    renamed = scim.patch(f"/Groups/{gid}", load_fixture("okta/rename_group.json", group_id=gid))
    assert renamed.status_code in (200, 204)
    assert scim.get(f"/Groups/{gid}").json()["displayName"] == "Test SCIMv2 renamed"

    change = load_fixture("okta/change_members.json", remove_id=leaving, add_id=added)
    assert scim.patch(f"/Groups/{gid}", change).status_code in (200, 204)
    members = sorted(m["value"] for m in scim.get(f"/Groups/{gid}").json()["members"])
    assert members == sorted([kept, added])

    push = load_fixture("okta/push_members.json", member_id=kept)
    scim.patch(f"/Groups/{gid}", push)
    assert [m["value"] for m in scim.get(f"/Groups/{gid}").json()["members"]] == [kept]

    assert scim.delete(f"/Groups/{gid}").status_code == 204


# Entra ID


@pytest.fixture
def entra_user(scim):
    response = scim.post("/Users", load_fixture("entra/create_user.json"))
    assert response.status_code == 201
    return response.json()


def test_entra_create_and_lookups(scim, entra_user):
    assert entra_user[ENTERPRISE]["employeeNumber"] == "701984"
    user_name = entra_user["userName"]
    for expression in (
        f'userName eq "{user_name}"',
        f'userName eq "{user_name.upper()}"',
        'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"',
        'emails[type eq "work"].value eq '
        '"Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"',
    ):
        assert scim.get("/Users", filter=expression).json()["totalResults"] == 1, expression
    # Test Connection: a random lookup answers 200 and zero results.
    miss = scim.get("/Users", filter='userName eq "e4b7d2c0-random@testuser.com"')
    assert miss.status_code == 200 and miss.json()["totalResults"] == 0
    assert scim.get("/Groups", filter='displayName eq "random"').json()["totalResults"] == 0
    duplicate = scim.post("/Users", load_fixture("entra/create_user.json"))
    assert duplicate.status_code == 409


def test_entra_legacy_patch_dialect(scim, entra_user):
    path = f"/Users/{entra_user['id']}"
    body = scim.patch(path, load_fixture("entra/patch_user_legacy.json")).json()
    assert body["displayName"] == "Ryan Leenay" and body["name"]["givenName"] == "Ryan"
    assert [e["value"] for e in body["emails"] if e["type"] == "work"] == [
        "updatedEmail@microsoft.com"
    ]
    assert body["phoneNumbers"] == [{"value": "+1 555 0100", "type": "mobile"}]
    disabled = scim.patch(path, load_fixture("entra/disable_user_legacy.json"))
    assert disabled.status_code == 200 and disabled.json()["active"] is False


def test_entra_flagged_patch_dialect(scim, entra_user):
    path = f"/Users/{entra_user['id']}"
    body = scim.patch(path, load_fixture("entra/patch_user_pathless.json")).json()
    assert body["displayName"] == "Bjfe"
    assert body["name"]["givenName"] == "Kkom" and body["name"]["familyName"] == "Unua"
    assert body[ENTERPRISE]["employeeNumber"] == "Aklq"
    renamed = scim.patch(path, load_fixture("entra/replace_username.json")).json()
    assert renamed["userName"].startswith("5b50642d")
    email = scim.patch(path, load_fixture("entra/replace_email.json")).json()
    assert [e["value"] for e in email["emails"]] == ["changed@example.com"]
    assert (
        scim.get("/Users", filter='emails[type eq "work"].value eq "changed@example.com"').json()[
            "totalResults"
        ]
        == 1
    )
    address = scim.patch(path, load_fixture("entra/replace_address.json")).json()
    assert address["addresses"] == [
        {"type": "work", "streetAddress": "1 Main Street", "locality": "Redmond"}
    ]
    disabled = scim.patch(path, load_fixture("entra/disable_user.json")).json()
    assert disabled["active"] is False


def test_entra_manager_add_replace_remove(scim, entra_user):
    manager = scim.create_user("boss@example.com")["id"]
    path = f"/Users/{entra_user['id']}"
    added = scim.patch(path, load_fixture("entra/add_manager.json", manager_id=manager)).json()
    assert added[ENTERPRISE]["manager"]["value"] == manager
    removed = scim.patch(path, load_fixture("entra/remove_manager.json")).json()
    assert "manager" not in removed[ENTERPRISE]
    scim.patch(path, load_fixture("entra/add_manager.json", manager_id=manager))
    emptied = scim.patch(path, load_fixture("entra/replace_manager_empty.json"))
    assert emptied.status_code == 200
    assert "manager" not in emptied.json()[ENTERPRISE]


def test_entra_several_ops_on_one_attribute(scim, entra_user):
    body = scim.patch(
        f"/Users/{entra_user['id']}", load_fixture("entra/several_ops_one_attribute.json")
    ).json()
    assert body["title"] == "Principal Engineer"


def test_entra_groups(scim):
    first = scim.create_user("first@example.com")["id"]
    second = scim.create_user("second@example.com")["id"]
    created = scim.post("/Groups", load_fixture("entra/create_group.json"))
    assert created.status_code == 201
    group = created.json()
    assert group["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Group"]
    assert scim.post("/Groups", load_fixture("entra/create_group.json")).status_code == 409
    gid = group["id"]

    found = scim.get("/Groups", filter='displayName eq "DISPLAYNAME"', excludedAttributes="members")
    assert found.json()["totalResults"] == 1 and "members" not in found.json()["Resources"][0]
    by_id = scim.get(f"/Groups/{gid}", excludedAttributes="members").json()
    assert by_id["displayName"] == "displayName" and "members" not in by_id

    for member in (first, second):
        add = scim.patch(f"/Groups/{gid}", load_fixture("entra/add_member.json", member_id=member))
        assert add.status_code == 204
    remove = load_fixture("entra/remove_members_legacy.json", first_id=first, second_id=second)
    scim.patch(f"/Groups/{gid}", remove)
    assert "members" not in scim.get(f"/Groups/{gid}").json()
    scim.patch(f"/Groups/{gid}", load_fixture("entra/add_member.json", member_id=first))
    scim.patch(f"/Groups/{gid}", load_fixture("entra/remove_member.json", member_id=first))
    assert "members" not in scim.get(f"/Groups/{gid}").json()

    scim.patch(f"/Groups/{gid}", load_fixture("entra/replace_group_pathless.json"))
    renamed = scim.get(f"/Groups/{gid}").json()
    assert renamed["displayName"].endswith("updatedDisplayName")
    assert renamed["externalId"] == "new-external-id"
    assert scim.delete(f"/Groups/{gid}").status_code == 204
    assert scim.delete(f"/Groups/{gid}").status_code == 404


def test_onelogin_sends_emails_as_an_object(scim):
    response = scim.post(
        "/Users",
        {"userName": "ol@example.com", "emails": {"value": "ol@example.com", "primary": True}},
    )
    assert response.status_code == 201
    assert response.json()["emails"] == [{"value": "ol@example.com", "primary": True}]
