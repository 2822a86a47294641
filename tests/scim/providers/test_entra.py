"""Microsoft Entra ID, on the payloads of its SCIM tutorial and its SCIM-compliance
notes, with and without ``aadOptscim062020`` (tests/fixtures/entra/)."""

import pytest

from tests.scim.providers.conformance import ProviderConformance
from tests.scim_client import load_fixture

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


class TestEntra(ProviderConformance):
    provider = "entra"
    files = {
        "update_user": "patch_user_pathless.json",
        "deactivate_user": "disable_user.json",
    }
    updated = {"displayName": "Bjfe"}
    renamed = {"displayName": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}

    @pytest.fixture
    def entra_user(self, scim):
        response = scim.post("/Users", load_fixture("entra/create_user.json"))
        assert response.status_code == 201
        return response.json()

    def test_create_and_lookups(self, scim, entra_user):
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

    def test_legacy_patch_dialect(self, scim, entra_user):
        path = f"/Users/{entra_user['id']}"
        body = scim.patch(path, load_fixture("entra/patch_user_legacy.json")).json()
        assert body["displayName"] == "Ryan Leenay" and body["name"]["givenName"] == "Ryan"
        assert [e["value"] for e in body["emails"] if e["type"] == "work"] == [
            "updatedEmail@microsoft.com"
        ]
        assert body["phoneNumbers"] == [{"value": "+1 555 0100", "type": "mobile"}]
        disabled = scim.patch(path, load_fixture("entra/disable_user_legacy.json"))
        assert disabled.status_code == 200 and disabled.json()["active"] is False

    def test_flagged_patch_dialect(self, scim, entra_user):
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
            scim.get(
                "/Users", filter='emails[type eq "work"].value eq "changed@example.com"'
            ).json()["totalResults"]
            == 1
        )
        address = scim.patch(path, load_fixture("entra/replace_address.json")).json()
        assert address["addresses"] == [
            {"type": "work", "streetAddress": "1 Main Street", "locality": "Redmond"}
        ]
        disabled = scim.patch(path, load_fixture("entra/disable_user.json")).json()
        assert disabled["active"] is False

    def test_manager_add_replace_remove(self, scim, entra_user):
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

    def test_several_ops_on_one_attribute(self, scim, entra_user):
        body = scim.patch(
            f"/Users/{entra_user['id']}", load_fixture("entra/several_ops_one_attribute.json")
        ).json()
        assert body["title"] == "Principal Engineer"

    def test_groups(self, scim):
        first = scim.create_user("first@example.com")["id"]
        second = scim.create_user("second@example.com")["id"]
        created = scim.post("/Groups", load_fixture("entra/create_group.json"))
        assert created.status_code == 201
        group = created.json()
        assert group["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Group"]
        assert scim.post("/Groups", load_fixture("entra/create_group.json")).status_code == 409
        gid = group["id"]

        found = scim.get(
            "/Groups", filter='displayName eq "DISPLAYNAME"', excludedAttributes="members"
        )
        assert found.json()["totalResults"] == 1 and "members" not in found.json()["Resources"][0]
        by_id = scim.get(f"/Groups/{gid}", excludedAttributes="members").json()
        assert by_id["displayName"] == "displayName" and "members" not in by_id

        for member in (first, second):
            add = scim.patch(
                f"/Groups/{gid}", load_fixture("entra/add_member.json", member_id=member)
            )
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

    def test_legacy_removal_removes_only_the_members_listed(self, scim):
        first, second, third = (scim.create_user(f"{n}@example.com")["id"] for n in "abc")
        group = scim.create_group("Listed", [first, second, third])
        remove = load_fixture("entra/remove_members_legacy.json", first_id=first, second_id=second)
        assert scim.patch(f"/Groups/{group['id']}", remove).status_code == 204
        assert self.member_ids(scim, group["id"]) == {third}
