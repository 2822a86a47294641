"""Okta, on the payloads of its SCIM 2.0 Protocol Reference (tests/fixtures/okta/)."""

from tests.scim.providers.conformance import ProviderConformance
from tests.scim_client import load_fixture


class TestOkta(ProviderConformance):
    provider = "okta"
    user_agent = "Okta SCIM Client 1.0.0"
    update_method = "PUT"
    deletes_users = False
    files = {"update_user": "put_user.json"}
    updated = {"displayName": "Another User"}
    renamed = {"displayName": "Test SCIMv2 renamed"}

    def test_test_api_credentials_and_spec_checks(self, scim):
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
            scim.get("/Users", filter='userName eq "nobody-ever@example.com"').json()[
                "totalResults"
            ]
            == 0
        )
        assert scim.get("/Users/010101001010101011001010101011").status_code == 404
        assert scim.get("/Groups").status_code == 200

    def test_profile_update_by_put_and_deactivate_reactivate(self, scim):
        user = scim.post("/Users", load_fixture("okta/create_user.json")).json()
        put = scim.put(
            f"/Users/{user['id']}", load_fixture("okta/put_user.json", user_id=user["id"])
        )
        assert put.status_code == 200
        assert put.json()["displayName"] == "Another User"
        assert put.json()["id"] == user["id"]

        off = scim.patch(f"/Users/{user['id']}", load_fixture("okta/deactivate_user.json"))
        assert off.status_code == 200 and off.json()["active"] is False
        assert scim.get(f"/Users/{user['id']}").json()["active"] is False
        on = scim.patch(f"/Users/{user['id']}", load_fixture("okta/reactivate_user.json"))
        assert on.json()["active"] is True

    def test_group_push(self, scim):
        kept = scim.create_user("kept@example.com")["id"]
        leaving = scim.create_user("leaving@example.com")["id"]
        added = scim.create_user("added@example.com")["id"]
        group = scim.post("/Groups", load_fixture("okta/create_group.json")).json()
        gid = group["id"]

        scim.patch_ops(
            f"/Groups/{gid}",
            {"op": "add", "path": "members", "value": [{"value": kept}, {"value": leaving}]},
        )
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
