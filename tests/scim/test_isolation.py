"""A connection (and an account) can neither see nor change another's directory."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_scim):
    user = other_scim.create_user("secret@other.example", externalId="X")
    group = other_scim.create_group("Their Group", [user["id"]])
    return user, group


def test_lists_and_filters_show_only_own_resources(scim, theirs):
    scim.create_user("mine@example.com")
    assert [r["userName"] for r in scim.get("/Users").json()["Resources"]] == ["mine@example.com"]
    assert (
        scim.get("/Users", filter='userName eq "secret@other.example"').json()["totalResults"] == 0
    )
    assert scim.get("/Users", filter='externalId eq "X"').json()["totalResults"] == 0
    assert scim.get("/Groups").json()["totalResults"] == 0
    root = scim.post("/.search", {"filter": "displayName pr"}).json()
    assert root["totalResults"] == 0


def test_other_connections_ids_are_404_for_every_method(scim, other_scim, theirs):
    user, group = theirs
    for path in (f"/Users/{user['id']}", f"/Groups/{group['id']}"):
        assert scim.get(path).status_code == 404
        assert scim.put(path, {"userName": "x", "displayName": "x"}).status_code == 404
        assert (
            scim.patch_ops(path, {"op": "replace", "path": "displayName", "value": "x"}).status_code
            == 404
        )
        assert scim.delete(path).status_code == 404
    assert other_scim.get(f"/Users/{user['id']}").json()["userName"] == "secret@other.example"
    assert other_scim.get(f"/Groups/{group['id']}").json()["displayName"] == "Their Group"


def test_member_references_across_connections_are_rejected(scim, theirs):
    user, group = theirs
    own_group = scim.create_group("Mine")
    response = scim.patch_ops(
        f"/Groups/{own_group['id']}",
        {"op": "add", "path": "members", "value": [{"value": user["id"]}]},
    )
    assert response.status_code == 400
    assert scim.get("/Users", filter=f'groups.value eq "{group["id"]}"').json()["totalResults"] == 0


def test_same_user_name_and_group_name_in_two_connections(scim, other_scim, theirs):
    assert scim.post("/Users", {"userName": "secret@other.example"}).status_code == 201
    assert scim.post("/Groups", {"displayName": "Their Group"}).status_code == 201


def test_token_only_opens_its_own_connection(scim, other_scim):
    response = scim.client.get(
        f"{other_scim.base}/Users", HTTP_AUTHORIZATION=f"Bearer {scim.token}"
    )
    assert response.status_code == 401


def test_bulk_cannot_reach_another_connection(scim, theirs):
    user, _group = theirs
    response = scim.post(
        "/Bulk",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [{"method": "DELETE", "path": f"/Users/{user['id']}"}],
        },
    )
    assert response.json()["Operations"][0]["status"] == "404"
