"""Users endpoint: INTEROP.md checklist items 3, 4, 5, 8-13, 17-19 and ETags."""

import json

import pytest

from scim_portal.models import DirectoryUser

pytestmark = pytest.mark.django_db

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def test_post_returns_201_full_resource_location_and_meta(scim):
    response = scim.post("/Users", {"schemas": [USER], "userName": "Ada@Example.com"})
    assert response.status_code == 201
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    assert response["Location"] == body["meta"]["location"]
    assert body["meta"]["location"] == f"http://testserver{scim.base}/Users/{body['id']}"
    assert body["meta"]["resourceType"] == "User"
    assert {"created", "lastModified", "version"} <= set(body["meta"])
    assert response["ETag"] == body["meta"]["version"]
    assert "active" not in body  # never set: unassigned, as RFC 7643 has it


def test_plain_application_json_is_accepted_and_answered_as_scim(scim):
    response = scim.post(
        "/Users", {"schemas": [USER], "userName": "plain"}, content_type="application/json"
    )
    assert response.status_code == 201
    assert response["Content-Type"] == "application/scim+json"


def test_other_content_types_are_415_scim_errors(scim):
    response = scim.post("/Users", "userName=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["schemas"] == [ERROR]


def test_values_are_echoed_exactly_as_received(scim):
    body = scim.create_user(
        "MiXeD.Case@Example.COM",
        externalId="Ext-ID-0001",
        nickName="Babs",
        title="Tour Guide",
    )
    fetched = scim.get(f"/Users/{body['id']}").json()
    for key in ("userName", "externalId", "nickName", "title"):
        assert fetched[key] == body[key]
    assert fetched["userName"] == "MiXeD.Case@Example.COM"


def test_read_only_and_unknown_input_is_ignored_and_password_never_echoed(scim):
    response = scim.post(
        "/Users",
        {
            "schemas": [USER, "urn:unknown:schema"],
            "id": "client-chosen",
            "meta": {"created": "1999-01-01T00:00:00Z"},
            "userName": "ignored@example.com",
            "password": "s3cret!",
            "groups": [{"value": "whatever"}],
            "locale": "en-US",
            "favouriteColour": "blue",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["id"] != "client-chosen"
    assert not body["meta"]["created"].startswith("1999")
    assert "password" not in body and "favouriteColour" not in body
    assert body["schemas"] == [USER]
    stored = DirectoryUser.objects.get(pk=body["id"])
    assert "s3cret!" not in json.dumps(stored.attributes)


def test_boolean_strings_are_coerced_and_answered_as_json_booleans(scim):
    body = scim.create_user("bools@example.com", active="False")
    assert body["active"] is False
    raw = scim.get(f"/Users/{body['id']}").content.decode()
    assert '"active":false' in raw.replace(" ", "")


def test_duplicate_user_name_is_409_uniqueness_ignoring_case(scim):
    scim.create_user("dup@example.com")
    response = scim.post("/Users", {"schemas": [USER], "userName": "DUP@example.com"})
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"
    assert DirectoryUser.objects.count() == 1


def test_missing_user_name_is_400_invalid_value(scim):
    response = scim.post("/Users", {"schemas": [USER], "displayName": "No Name"})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    assert not DirectoryUser.objects.exists()


def test_unknown_id_is_404_scim_error(scim):
    for path in (
        "/Users/010101001010101011001010101011",
        "/Users/" + "0" * 8 + "-0000-7000-8000-" + "0" * 12,
    ):
        response = scim.get(path)
        assert response.status_code == 404
        assert response.json()["schemas"] == [ERROR]
        for kind in ("Users", "Groups"):  # every method, not only GET
            target = path.replace("/Users/", f"/{kind}/")
            patch = {"Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}
            for response in (
                scim.put(target, {"userName": "x", "displayName": "x"}),
                scim.patch(target, patch),
                scim.delete(target),
            ):
                assert response.status_code == 404, (target, response.content)
                assert response.json()["schemas"] == [ERROR]


def test_put_replaces_the_resource(scim):
    user = scim.create_user("put@example.com", title="Old", nickName="Nick")
    replacement = {
        **user,
        "title": "New",
        "name": {"givenName": "Put"},
    }
    replacement.pop("nickName")
    response = scim.put(f"/Users/{user['id']}", replacement)
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "New" and body["name"] == {"givenName": "Put"}
    assert "nickName" not in body
    assert body["meta"]["version"] != user["meta"]["version"]


def test_deactivation_is_soft(scim):
    user = scim.create_user("soft@example.com")
    response = scim.patch_ops(
        f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": False}
    )
    assert response.status_code == 200 and response.json()["active"] is False
    assert scim.get(f"/Users/{user['id']}").json()["active"] is False
    found = scim.get("/Users", filter='userName eq "soft@example.com"').json()
    assert found["totalResults"] == 1 and found["Resources"][0]["active"] is False
    assert scim.get("/Users", filter="active eq false").json()["totalResults"] == 1


def test_delete_is_204_then_404(scim):
    user = scim.create_user("gone@example.com")
    first = scim.delete(f"/Users/{user['id']}")
    assert first.status_code == 204 and first.content == b""
    second = scim.delete(f"/Users/{user['id']}")
    assert second.status_code == 404 and second.json()["schemas"] == [ERROR]
    assert scim.get(f"/Users/{user['id']}").status_code == 404


def test_add_and_replace_are_equivalent_for_single_valued_and_no_op_succeeds(scim):
    user = scim.create_user("eq@example.com")
    path = f"/Users/{user['id']}"
    added = scim.patch_ops(path, {"op": "add", "path": "title", "value": "A"}).json()
    replaced = scim.patch_ops(path, {"op": "replace", "path": "title", "value": "B"}).json()
    assert (added["title"], replaced["title"]) == ("A", "B")
    again = scim.patch_ops(path, {"op": "replace", "path": "title", "value": "B"})
    assert again.status_code == 200
    assert again.json()["meta"]["version"] == replaced["meta"]["version"]  # nothing changed


def test_patch_ops_are_case_insensitive(scim):
    user = scim.create_user("ops@example.com")
    response = scim.patch_ops(
        f"/Users/{user['id']}", {"op": "REPLACE", "path": "title", "value": "X"}
    )
    assert response.status_code == 200 and response.json()["title"] == "X"


def test_version_changes_on_every_write_and_if_match_is_enforced(scim):
    user = scim.create_user("etag@example.com")
    path = f"/Users/{user['id']}"
    stale = user["meta"]["version"]
    fresh = scim.patch_ops(path, {"op": "replace", "path": "title", "value": "1"}).json()
    assert fresh["meta"]["version"] != stale
    refused = scim.patch_ops(
        path, {"op": "replace", "path": "title", "value": "2"}, headers={"If-Match": stale}
    )
    assert refused.status_code == 412
    assert scim.get(path).json()["title"] == "1"
    accepted = scim.patch_ops(
        path,
        {"op": "replace", "path": "title", "value": "2"},
        headers={"If-Match": fresh["meta"]["version"]},
    )
    assert accepted.status_code == 200
    assert scim.delete(path, headers={"If-Match": stale}).status_code == 412


def test_if_none_match_gives_304(scim):
    user = scim.create_user("cache@example.com")
    response = scim.get(f"/Users/{user['id']}", headers={"If-None-Match": user["meta"]["version"]})
    assert response.status_code == 304
    assert scim.get(f"/Users/{user['id']}", headers={"If-None-Match": 'W/"999"'}).status_code == 200


def test_attributes_and_excluded_attributes_on_get_and_list(scim):
    user = scim.create_user("shape@example.com", title="T", emails=[{"value": "shape@example.com"}])
    only = scim.get(f"/Users/{user['id']}", attributes="userName").json()
    assert set(only) == {"schemas", "id", "userName"}
    without = scim.get("/Users", excludedAttributes="emails,title").json()["Resources"][0]
    assert "emails" not in without and "title" not in without and without["userName"]


def test_oversized_value_is_400_not_500(scim):
    response = scim.post("/Users", {"schemas": [USER], "userName": "x" * 300})
    assert response.status_code == 400
