"""bench/verify_sync.py finds what a first sync left wrong, not only what is missing."""

import pytest

from bench.verify_sync import verify_portal
from scim_portal.models import DirectoryGroup, DirectoryUser, GroupMembership
from scim_portal.provisioning import directory
from tests.factories import OrganizationFactory
from tests.testapp.models import OrganizationMembership

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(scim):
    """What the benchmark's first sync makes: 4 users, then 2 groups of 2 members each."""
    directory.update_connection_settings(scim.connection, default_role="viewer")
    names = [f"sync-t-{i}@example.com" for i in range(4)]
    ids = [scim.create_user(n, emails=[{"value": n, "type": "work"}])["id"] for n in names]
    for g in range(2):
        scim.create_group(f"Sync t {g}", members=ids[g * 2 : (g + 1) * 2])
    return scim


def test_a_right_sync_has_no_problems(synced):
    assert verify_portal("t", 4, 2)["problems"] == []


def test_a_membership_in_another_account_is_a_problem(synced):
    membership = OrganizationMembership.objects.filter(user__username="sync-t-0@example.com")
    membership.update(organization=OrganizationFactory())
    assert verify_portal("t", 4, 2)["problem_count"]


def test_a_member_in_the_wrong_group_is_a_problem(synced):
    """Each group still has two members, but one person is in both and one in none."""
    _first, second = DirectoryGroup.objects.order_by("display_name")
    moved = GroupMembership.objects.filter(group=second).order_by("user__user_name").first()
    moved.user = DirectoryUser.objects.get(user_name="sync-t-0@example.com")
    moved.save()
    assert verify_portal("t", 4, 2)["problem_count"]
