"""The brake in Django admin: removals and deleted users, read-only, filtered by state
and connection; held removals approved or rejected by an action, as the staff member."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scim_portal.models import DeletedUser, EventType, ProvisioningEvent, Removal, RemovalState
from scim_portal.provisioning import directory, safety
from tests.admin.test_admin import ADMIN, staff_with
from tests.testapp.models import OrganizationMembership

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(setup):
    """Six people in acme's connection; the brake holds every removal after the first."""
    connection = setup["connection"]
    directory.update_connection_settings(connection, brake_percent=5, brake_minimum=2)
    people = [
        directory.create_user(connection, {"userName": f"p{n}@acme.example"}) for n in range(6)
    ]
    for person in people[:4]:
        directory.update_user(connection, person.pk, lambda u: {**u.attributes, "active": False})
    directory.delete_user(connection, people[5].pk)
    assert safety.held(connection).count() == 4
    return people


def test_removals_and_deleted_users_are_listed_read_only_and_filtered(staff, setup, held):
    page = staff.get(f"{ADMIN}/removal/", {"state__exact": "held"}).content.decode()
    assert "p1@acme.example" in page and "p5@acme.example" in page
    assert "p0@acme.example" not in page  # applied
    applied = staff.get(f"{ADMIN}/removal/", {"state__exact": "applied"}).content.decode()
    assert "p0@acme.example" in applied and "p1@acme.example" not in applied
    other = setup["other_connection"].pk
    assert (
        "p1@acme.example"
        not in staff.get(f"{ADMIN}/removal/", {"connection_id": str(other)}).content.decode()
    )
    deleted = staff.get(f"{ADMIN}/deleteduser/", {"restorable": "yes"}).content.decode()
    assert "p5@acme.example" in deleted
    DeletedUser.objects.update(purge_after=timezone.now() - timedelta(days=1))
    assert (
        "p5@acme.example"
        not in staff.get(f"{ADMIN}/deleteduser/", {"restorable": "yes"}).content.decode()
    )
    for model in ("removal", "deleteduser"):
        assert staff.get(f"{ADMIN}/{model}/add/").status_code == 403
    removal = Removal.objects.first()
    assert staff.post(f"{ADMIN}/removal/{removal.pk}/delete/").status_code == 403


def test_staff_approve_held_removals_with_an_action(staff, setup, held):
    chosen = list(
        Removal.objects.filter(user_id__in=[held[1].pk, held[0].pk]).values_list("pk", flat=True)
    )
    response = staff.post(
        f"{ADMIN}/removal/",
        {"action": "approve_held", "_selected_action": chosen},
        follow=True,
    )
    page = response.content.decode()
    assert "1 approved; memberships deactivated: 1" in page
    member = OrganizationMembership.objects.get(user=held[1].host_user)
    assert member.is_active is False
    assert safety.held(setup["connection"]).count() == 3
    event = ProvisioningEvent.objects.get(type=EventType.USER_REMOVAL_APPROVED)
    assert event.actor["via"] == "admin" and event.actor["staff"] is True

    rest = list(Removal.objects.values_list("pk", flat=True))
    staff.post(f"{ADMIN}/removal/", {"action": "reject_held", "_selected_action": rest})
    assert Removal.objects.filter(state=RemovalState.REJECTED).count() == 3
    assert OrganizationMembership.objects.get(user=held[2].host_user).is_active is True


def test_only_staff_who_may_change_removals_decide(setup, held):
    viewer = staff_with("view_removal", "view_deleteduser")
    page = viewer.get(f"{ADMIN}/removal/").content.decode()
    assert "p1@acme.example" in page and "approve_held" not in page
    assert viewer.get(f"{ADMIN}/deleteduser/").status_code == 200
    ids = list(Removal.objects.values_list("pk", flat=True))
    viewer.post(f"{ADMIN}/removal/", {"action": "approve_held", "_selected_action": ids})
    assert safety.held(setup["connection"]).count() == 4
    decider = staff_with("view_removal", "change_removal")
    assert "approve_held" in decider.get(f"{ADMIN}/removal/").content.decode()


def test_a_host_failure_in_the_action_is_a_message_not_a_500(staff, setup, held, monkeypatch):
    from scim_portal.provisioning.adapter import DefaultProvisioningAdapter

    def unavailable(*args, **kwargs):
        raise RuntimeError("host database unavailable")

    monkeypatch.setattr(DefaultProvisioningAdapter, "user_deactivated", unavailable)
    staff.raise_request_exception = False
    ids = list(Removal.objects.values_list("pk", flat=True))

    response = staff.post(
        f"{ADMIN}/removal/", {"action": "approve_held", "_selected_action": ids}, follow=True
    )

    assert response.status_code == 200
    assert "could not apply this change" in response.content.decode()
    assert safety.held(setup["connection"]).count() == 4
