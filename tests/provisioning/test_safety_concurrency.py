"""The brake under concurrent writers, on PostgreSQL: two deactivations at once near the
threshold are counted as if one came after the other."""

import threading

import pytest
from django.db import connections

from scim_portal.models import Removal, RemovalState
from scim_portal.provisioning import create_connection, directory, safety
from scim_portal.provisioning.adapter import DefaultProvisioningAdapter
from tests.factories import OrganizationFactory

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


def deactivate(connection, user_id):
    directory.update_user(connection, user_id, lambda u: {**u.attributes, "active": False})


def in_thread(function):
    def run():
        try:
            function()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_deactivations_at_once_near_the_threshold_are_counted_one_after_the_other(
    monkeypatch,
):
    connection, _issued = create_connection(
        account=OrganizationFactory(), name="Entra", provider="entra"
    )
    directory.update_connection_settings(connection, brake_percent=10, brake_minimum=3)
    people = [
        directory.create_user(connection, {"userName": f"p{n}@example.com"}) for n in range(20)
    ]
    deactivate(connection, people[0].pk)  # one removed within the hour
    first, second = people[1], people[2]
    reached, resume = threading.Event(), threading.Event()
    original = DefaultProvisioningAdapter.user_deactivated

    def slow_host(self, user):
        if user.pk == first.pk:  # the first request is still applying its host effects
            reached.set()
            resume.wait(10)
        original(self, user)

    monkeypatch.setattr(DefaultProvisioningAdapter, "user_deactivated", slow_host)

    one = in_thread(lambda: deactivate(connection, first.pk))
    assert reached.wait(10)
    other = in_thread(lambda: deactivate(connection, second.pk))
    other.join(1)  # waits for the first one's count, or ends
    resume.set()
    one.join(20)
    other.join(20)

    # One after the other: 2 of 20 passes, the third (3 of 20, more than 10%) is held.
    states = dict(Removal.objects.values_list("user_id", "state"))
    assert states[first.pk] == RemovalState.APPLIED
    assert states[second.pk] == RemovalState.HELD
    assert [row.user_id for row in safety.held(connection)] == [second.pk]


def test_a_deletion_while_its_held_deactivation_is_being_approved_is_applied(monkeypatch):
    from tests.testapp.models import OrganizationMembership

    connection, _issued = create_connection(
        account=OrganizationFactory(), name="Entra", provider="entra"
    )
    directory.update_connection_settings(
        connection, brake_percent=10, brake_minimum=1, deprovision_policy="remove"
    )
    person, _other = (
        directory.create_user(connection, {"userName": f"p{n}@example.com"}) for n in range(2)
    )
    deactivate(connection, person.pk)
    assert safety.held(connection).count() == 1
    reached, resume = threading.Event(), threading.Event()
    original = DefaultProvisioningAdapter.user_deactivated

    def slow_host(self, user):
        reached.set()
        resume.wait(10)
        original(self, user)

    monkeypatch.setattr(DefaultProvisioningAdapter, "user_deactivated", slow_host)

    approving = in_thread(lambda: safety.approve(connection))
    assert reached.wait(10)
    deleting = in_thread(lambda: directory.delete_user(connection, person.pk))
    deleting.join(1)  # waits for the approval's lock on the removal
    resume.set()
    approving.join(20)
    deleting.join(20)

    # The approval applied the deactivation; the deletion came after it and is applied
    # too (the membership removed, as the policy says), not folded into a decided removal.
    kinds = sorted(Removal.objects.filter(user_id=person.pk).values_list("kind", "state"))
    assert kinds == [("deactivate", "approved"), ("delete", "applied")]
    assert not OrganizationMembership.objects.filter(user_id=person.host_user_id).exists()
