"""Vendor staff and account domains in Django admin: every change through the domain
services, with an event naming the staff member."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client

from scim_portal.models import AccountDomain, ProvisioningEvent
from scim_portal.provisioning.domains import add_domain, mark_verified
from scim_portal.provisioning.events import Actor
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db
DOMAINS = "/admin/scim_portal/accountdomain/"


@pytest.fixture
def staff_user(db):
    return UserFactory(username="support", is_staff=True, is_superuser=True)


@pytest.fixture
def staff(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def staff_actor(user):
    return {"type": "user", "id": user.pk, "username": "support", "via": "admin", "staff": True}


def test_list_filter_and_search(staff, organization):
    verified = add_domain(organization, "acme.example", actor=Actor())
    mark_verified(verified, actor=Actor())
    add_domain(OrganizationFactory(handle="globex"), "globex.example", actor=Actor())

    page = staff.get(DOMAINS).content.decode()
    assert "acme.example" in page and "globex.example" in page
    only_verified = staff.get(DOMAINS, {"verified": "yes"}).content.decode()
    assert "acme.example" in only_verified and "globex.example" not in only_verified
    found = staff.get(DOMAINS, {"q": "globex"}).content.decode()
    assert "globex.example" in found and "acme.example" not in found


def test_staff_add_a_domain_through_the_service(staff, staff_user, organization):
    response = staff.post(DOMAINS + "add/", {"account": organization.pk, "domain": "Acme.Example"})

    assert response.status_code == 302
    domain = AccountDomain.objects.get()
    assert domain.domain == "acme.example" and domain.created_by == staff_user
    assert len(domain.verification_token) == 32
    event = ProvisioningEvent.objects.get(type="domain.added")
    assert event.actor == staff_actor(staff_user) and event.connection_id is None


def test_adding_a_domain_another_account_verified_is_refused(staff, organization):
    mark_verified(add_domain(OrganizationFactory(), "acme.example", actor=Actor()), actor=Actor())

    response = staff.post(DOMAINS + "add/", {"account": organization.pk, "domain": "acme.example"})

    assert response.status_code == 200
    assert "acme.example is already verified by another account." in response.content.decode()
    assert AccountDomain.objects.count() == 1


def test_mark_verified_action_reports_each_domain(staff, staff_user, organization):
    ours = add_domain(organization, "acme.example", actor=Actor())
    done = add_domain(organization, "done.example", actor=Actor())
    mark_verified(done, actor=Actor())
    contested = add_domain(organization, "globex.example", actor=Actor())
    mark_verified(add_domain(OrganizationFactory(), "globex.example", actor=Actor()), actor=Actor())

    response = staff.post(
        DOMAINS,
        {"action": "mark_domains_verified", "_selected_action": [ours.pk, done.pk, contested.pk]},
    )

    assert response.status_code == 302
    assert sorted(messages_of(response)) == [
        f"acme.example ({organization}): marked verified.",
        f"done.example ({organization}): was already verified.",
        f"globex.example ({organization}): globex.example is already verified by another account.",
    ]
    ours.refresh_from_db()
    assert ours.is_verified and ours.verification_method == "staff"
    assert ours.verified_by == staff_user
    event = ProvisioningEvent.objects.filter(type="domain.verified").latest("id")
    assert event.resource_id == str(ours.pk) and event.actor == staff_actor(staff_user)
    contested.refresh_from_db()
    assert not contested.is_verified


def test_verification_is_never_edited_by_hand(staff, organization):
    domain = add_domain(organization, "acme.example", actor=Actor())
    page = staff.get(f"{DOMAINS}{domain.pk}/change/").content.decode()
    assert domain.record_value in page
    assert 'name="domain"' not in page and 'name="verified_at"' not in page

    staff.post(
        f"{DOMAINS}{domain.pk}/change/",
        {"domain": "evil.example", "verified_at": "2026-01-01 00:00", "account": 999},
    )

    domain.refresh_from_db()
    assert domain.domain == "acme.example" and not domain.is_verified


def test_delete_goes_through_the_service(staff, staff_user, organization):
    one = add_domain(organization, "one.example", actor=Actor())
    two = add_domain(organization, "two.example", actor=Actor())
    three = add_domain(organization, "three.example", actor=Actor())

    staff.post(f"{DOMAINS}{one.pk}/delete/", {"post": "yes"})
    staff.post(
        DOMAINS,
        {"action": "delete_selected", "_selected_action": [two.pk, three.pk], "post": "yes"},
    )

    assert not AccountDomain.objects.exists()
    removed = ProvisioningEvent.objects.filter(type="domain.removed").order_by("id")
    assert [event.changes["domain"] for event in removed] == [
        "one.example",
        "three.example",
        "two.example",
    ]
    assert all(event.actor == staff_actor(staff_user) for event in removed)


def test_staff_who_may_only_view_cannot_mark_verified(organization):
    domain = add_domain(organization, "acme.example", actor=Actor())
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_accountdomain"))
    client = Client()
    client.force_login(user)

    assert "mark_domains_verified" not in client.get(DOMAINS).content.decode()
    client.post(DOMAINS, {"action": "mark_domains_verified", "_selected_action": [domain.pk]})

    domain.refresh_from_db()
    assert not domain.is_verified
