"""Groups: INTEROP.md checklist 9, 20, 21 and atomic mixed member operations."""

import pytest

from scim_portal.models import DirectoryGroup, GroupMembership

pytestmark = pytest.mark.django_db

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def member_ids(scim, group_id):
    members = scim.get(f"/Groups/{group_id}").json().get("members", [])
    return sorted(m["value"] for m in members)


@pytest.fixture
def trio(scim):
    return sorted(scim.create_user(f"m{i}@example.com")["id"] for i in range(3))


def test_create_with_members_and_duplicate_is_409(scim, trio):
    group = scim.create_group("Team", trio[:2])
    assert sorted(m["value"] for m in group["members"]) == trio[:2]
    assert {m["display"] for m in group["members"]} == {"m0@example.com", "m1@example.com"}
    duplicate = scim.post("/Groups", {"schemas": [GROUP], "displayName": "TEAM"})
    assert duplicate.status_code == 409 and duplicate.json()["scimType"] == "uniqueness"


def test_add_existing_member_is_a_no_op(scim, trio):
    group = scim.create_group("Team", trio[:1])
    response = scim.patch_ops(
        f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [{"value": trio[0]}]}
    )
    assert response.status_code == 204
    assert member_ids(scim, group["id"]) == trio[:1]
    assert response["ETag"] == group["meta"]["version"]


@pytest.mark.parametrize(
    "operation",
    [
        lambda ids: {"op": "remove", "path": f'members[value eq "{ids[0]}"]'},
        lambda ids: {"op": "Remove", "path": "members", "value": [{"value": ids[0]}]},
        lambda ids: {"op": "replace", "path": "members", "value": [{"value": i} for i in ids[1:]]},
    ],
    ids=["valuePath", "value-list", "replace"],
)
def test_remove_member_in_every_form(scim, trio, operation):
    group = scim.create_group("Team", trio)
    response = scim.patch_ops(f"/Groups/{group['id']}", operation(trio))
    assert response.status_code == 204
    assert member_ids(scim, group["id"]) == trio[1:]


def test_remove_all_members(scim, trio):
    group = scim.create_group("Team", trio)
    scim.patch_ops(f"/Groups/{group['id']}", {"op": "remove", "path": "members"})
    assert member_ids(scim, group["id"]) == []


def test_replace_members_is_a_full_sync(scim, trio):
    group = scim.create_group("Team", trio[:2])
    scim.patch_ops(
        f"/Groups/{group['id']}",
        {"op": "replace", "path": "members", "value": [{"value": trio[1]}, {"value": trio[2]}]},
    )
    assert member_ids(scim, group["id"]) == trio[1:]


def test_mixed_member_operations_apply_in_order(scim, trio):
    group = scim.create_group("Team", trio[:1])
    response = scim.patch_ops(
        f"/Groups/{group['id']}",
        {"op": "add", "path": "members", "value": [{"value": trio[1]}, {"value": trio[2]}]},
        {"op": "remove", "path": f'members[value eq "{trio[1]}"]'},
        {"op": "replace", "path": "displayName", "value": "Renamed"},
    )
    assert response.status_code == 204
    assert member_ids(scim, group["id"]) == sorted([trio[0], trio[2]])
    assert scim.get(f"/Groups/{group['id']}").json()["displayName"] == "Renamed"


def test_a_failing_operation_rolls_back_the_whole_patch(scim, trio, other_scim):
    foreign = other_scim.create_user("foreign@example.com")["id"]
    group = scim.create_group("Team", trio[:1])
    response = scim.patch_ops(
        f"/Groups/{group['id']}",
        {"op": "replace", "path": "displayName", "value": "Should Not Stick"},
        {"op": "add", "path": "members", "value": [{"value": trio[1]}]},
        {"op": "add", "path": "members", "value": [{"value": foreign}]},
    )
    assert response.status_code == 400 and response.json()["scimType"] == "invalidValue"
    assert member_ids(scim, group["id"]) == trio[:1]
    assert scim.get(f"/Groups/{group['id']}").json()["displayName"] == "Team"


def test_members_of_another_connection_are_rejected_on_create(scim, other_scim):
    foreign = other_scim.create_user("x@example.com")["id"]
    response = scim.post(
        "/Groups", {"schemas": [GROUP], "displayName": "Sneaky", "members": [{"value": foreign}]}
    )
    assert response.status_code == 400
    assert not DirectoryGroup.objects.filter(display_name="Sneaky").exists()
    assert not GroupMembership.objects.exists()


def test_excluded_members_are_absent_and_not_queried(scim, trio, django_assert_num_queries):
    group = scim.create_group("Team", trio)
    body = scim.get(f"/Groups/{group['id']}", excludedAttributes="members").json()
    assert "members" not in body and body["displayName"] == "Team"
    listing = scim.get("/Groups", excludedAttributes="members").json()["Resources"]
    assert all("members" not in g for g in listing)
    only_name = scim.get("/Groups", attributes="displayName").json()["Resources"][0]
    assert set(only_name) == {"schemas", "id", "displayName"}
    # auth, the page (it is the last: no count), request log; no membership in any of them
    with django_assert_num_queries(3) as queries:
        scim.get("/Groups", excludedAttributes="members")
    assert not any("groupmembership" in q["sql"] for q in queries.captured_queries)


def test_path_less_replace_of_display_name_and_external_id(scim):
    group = scim.create_group("Before")
    scim.patch_ops(
        f"/Groups/{group['id']}",
        {"op": "replace", "value": {"displayName": "After", "externalId": "ext-9"}},
    )
    body = scim.get(f"/Groups/{group['id']}").json()
    assert (body["displayName"], body["externalId"]) == ("After", "ext-9")


def test_patch_with_attributes_parameter_returns_the_group(scim, trio):
    group = scim.create_group("Team")
    response = scim.patch_ops(
        f"/Groups/{group['id']}",
        {"op": "add", "path": "members", "value": [{"value": trio[0]}]},
        attributes="displayName,members",
    )
    assert response.status_code == 200
    assert [m["value"] for m in response.json()["members"]] == trio[:1]


def test_deleting_a_user_removes_its_memberships(scim, trio):
    group = scim.create_group("Team", trio)
    scim.delete(f"/Users/{trio[0]}")
    assert member_ids(scim, group["id"]) == trio[1:]


def test_group_delete_is_204_then_404(scim):
    group = scim.create_group("Doomed")
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert scim.delete(f"/Groups/{group['id']}").status_code == 404


def test_unsupported_members_paths_are_400(scim, trio):
    group = scim.create_group("Team", trio)
    for operation in (
        {"op": "replace", "path": f'members[value eq "{trio[0]}"].display', "value": "x"},
        {"op": "remove", "path": 'members[display eq "x"]'},
    ):
        response = scim.patch_ops(f"/Groups/{group['id']}", operation)
        assert response.status_code == 400, operation


def test_a_member_s_display_is_the_one_each_group_was_given(scim):
    user = scim.create_user("ada@example.com")
    for name in ("Alpha", "Beta"):
        body = {
            "schemas": [GROUP],
            "displayName": name,
            "members": [{"value": user["id"], "display": f"Ada in {name}"}],
        }
        assert scim.post("/Groups", body).status_code == 201
    listing = scim.get("/Groups", sortBy="displayName").json()["Resources"]
    assert [(g["displayName"], g["members"][0]["display"]) for g in listing] == [
        ("Alpha", "Ada in Alpha"),
        ("Beta", "Ada in Beta"),
    ]
