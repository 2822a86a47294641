"""Query budgets: constant whatever the page or group size."""

import pytest

from scim_portal.models import GroupMembership
from tests.factories import DirectoryUserFactory

pytestmark = pytest.mark.django_db


def make_users(scim, count, group=None):
    users = [
        DirectoryUserFactory(
            connection=scim.connection,
            user_name=f"bulk{i}@example.com",
            attributes={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"bulk{i}@example.com",
                "emails": [{"value": f"bulk{i}@example.com", "type": "work"}],
            },
        )
        for i in range(count)
    ]
    if group is not None:
        GroupMembership.objects.bulk_create(
            [GroupMembership(group_id=group["id"], user=user) for user in users]
        )
    return users


@pytest.mark.parametrize("count", [10, 100])
def test_a_page_of_users_with_emails_and_groups_costs_the_same_queries(
    scim, count, django_assert_num_queries
):
    group = scim.create_group("Everyone")
    make_users(scim, count, group)
    # auth, count, page, groups of the page, request log
    with django_assert_num_queries(5):
        body = scim.get("/Users", count=count).json()
    assert len(body["Resources"]) == count
    assert all(r["groups"][0]["display"] == "Everyone" and r["emails"] for r in body["Resources"])


@pytest.mark.parametrize("size", [10, 2000])
def test_one_member_patch_costs_the_same_on_small_and_large_groups(
    scim, size, django_assert_num_queries
):
    group = scim.create_group("Big")
    make_users(scim, size, group)
    newcomer = scim.create_user("newcomer@example.com")["id"]
    path = f"/Groups/{group['id']}"
    add = {"op": "add", "path": "members", "value": [{"value": newcomer}]}
    remove = {"op": "remove", "path": f'members[value eq "{newcomer}"]'}
    # auth, savepoint, lock group, check member, already present?, insert, update group,
    # group mapped to a role?, 3 for the event (lock counter, bump, insert), release, log
    with django_assert_num_queries(13):
        assert scim.patch_ops(path, add).status_code == 204
    # the same, with "which are members?" and "delete" in place of the two before the update
    with django_assert_num_queries(13):
        assert scim.patch_ops(path, remove).status_code == 204
    assert GroupMembership.objects.filter(group_id=group["id"]).count() == size


def test_get_user_by_id_query_budget(scim, django_assert_num_queries):
    user = scim.create_user("one@example.com")
    with django_assert_num_queries(4):  # auth, user, groups, request log
        assert scim.get(f"/Users/{user['id']}").status_code == 200
