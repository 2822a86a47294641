"""Verified domains: added by a tenant admin, proven by a DNS TXT record served by a real
DNS server, verified for one account at most."""

import time

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from scim_portal.models import AccountDomain, ProvisioningEvent
from scim_portal.provisioning import domains
from scim_portal.provisioning.domains import (
    add_domain,
    is_verified_for,
    mark_verified,
    remove_domain,
    verify_domain,
)
from scim_portal.provisioning.events import Actor
from scim_portal.provisioning.exceptions import DomainError
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db
NAME = "_scim-portal-verification.acme.example"


@pytest.fixture
def admin(db):
    return UserFactory(username="tenant-admin")


@pytest.fixture
def actor(admin):
    return Actor.for_user(admin, via="portal")


def account_events(account):
    return list(
        ProvisioningEvent.objects.filter(account_id=account.pk, connection__isnull=True).order_by(
            "id"
        )
    )


def test_the_right_record_verifies_the_domain(organization, admin, actor, dns_server):
    domain = add_domain(organization, "ACME.example", actor=actor)
    assert domain.domain == "acme.example" and domain.created_by == admin
    assert domain.record_name == NAME
    assert domain.record_value == f"scim-portal-verification={domain.verification_token}"
    dns_server.publish(NAME, "v=spf1 -all", domain.record_value)

    assert verify_domain(domain, actor=actor) is True

    domain.refresh_from_db()
    assert domain.is_verified and domain.verified_by == admin
    assert domain.verification_method == "dns" and domain.last_check_error == ""
    assert domain.last_checked_at is not None
    assert NAME in dns_server.zone.queries
    assert is_verified_for(organization, "ada@Acme.Example")
    added, verified = account_events(organization)
    assert (added.type, added.changes) == ("domain.added", {"domain": "acme.example"})
    assert verified.type == "domain.verified" and verified.resource_id == str(domain.pk)
    assert verified.changes == {
        "domain": "acme.example",
        "method": "dns",
        "status": {"old": "not verified", "new": "verified"},
    }
    assert verified.actor == {
        "type": "user",
        "id": admin.pk,
        "username": "tenant-admin",
        "via": "portal",
    }
    assert verified.actor_user == admin and verified.number is None


@pytest.mark.parametrize("published", ["nothing", "name without TXT"])
def test_a_missing_record_is_a_reason_not_an_error(organization, actor, dns_server, published):
    if published == "name without TXT":
        dns_server.add_name(NAME)
    domain = add_domain(organization, "acme.example", actor=actor)

    assert verify_domain(domain, actor=actor) is False

    domain.refresh_from_db()  # the failed check is saved
    assert not domain.is_verified and domain.last_checked_at is not None
    assert domain.last_check_error.startswith(f"No TXT record was found at {NAME}.")
    assert not is_verified_for(organization, "ada@acme.example")
    assert [event.type for event in account_events(organization)] == ["domain.added"]


def test_a_record_with_another_value_does_not_verify(organization, actor, dns_server):
    domain = add_domain(organization, "acme.example", actor=actor)
    dns_server.publish(NAME, "scim-portal-verification=0123456789abcdef", "v=spf1 -all")

    assert verify_domain(domain, actor=actor) is False

    domain.refresh_from_db()
    assert "but none holds" in domain.last_check_error
    assert domain.record_value in domain.last_check_error  # what is expected…
    assert "0123456789abcdef" not in domain.last_check_error  # …not what was found


def test_the_record_of_another_account_does_not_verify(organization, actor, dns_server):
    ours = add_domain(organization, "acme.example", actor=actor)
    theirs = add_domain(OrganizationFactory(), "acme.example", actor=actor)
    dns_server.publish(NAME, theirs.record_value)

    assert verify_domain(ours, actor=actor) is False
    assert theirs.verification_token not in ours.last_check_error
    assert verify_domain(theirs, actor=actor) is True

    dns_server.publish(NAME, theirs.record_value, ours.record_value)
    assert verify_domain(ours, actor=actor) is False
    assert ours.last_check_error == "acme.example is already verified by another account."
    ours.refresh_from_db()
    assert not ours.is_verified and ours.last_check_error.endswith("another account.")


def test_a_domain_verified_by_another_account_cannot_be_added(organization, actor):
    other = OrganizationFactory()
    mark_verified(add_domain(other, "acme.example", actor=actor), actor=actor)
    with pytest.raises(DomainError, match="already verified by another account"):
        add_domain(organization, "acme.example", actor=actor)
    assert not AccountDomain.objects.filter(account=organization).exists()


def test_adding_twice_or_not_a_domain_is_refused(organization, actor):
    add_domain(organization, "acme.example", actor=actor)
    with pytest.raises(DomainError, match="already added to this account"):
        add_domain(organization, "Acme.Example.", actor=actor)
    for value in ("localhost", "not a domain", "-acme.example", "a" * 64 + ".example", ""):
        with pytest.raises(ValueError, match="is not a domain name"):
            add_domain(organization, value, actor=actor)
    assert AccountDomain.objects.filter(account=organization).count() == 1


def test_the_database_verifies_a_domain_for_one_account_only(organization, actor):
    ours = add_domain(organization, "acme.example", actor=actor)
    mark_verified(add_domain(OrganizationFactory(), "acme.example", actor=actor), actor=actor)
    with pytest.raises(IntegrityError), transaction.atomic():
        AccountDomain.objects.filter(pk=ours.pk).update(verified_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        AccountDomain.objects.create(
            account=OrganizationFactory(),
            domain="acme.example",
            verification_token=AccountDomain.generate_token(),
            verified_at=timezone.now(),
        )


def test_a_verification_that_loses_a_race_says_so(organization, actor, dns_server, monkeypatch):
    """Both accounts' checks passed the "verified elsewhere?" question before either
    committed: the constraint refuses the second, and the service tells the admin."""
    ours = add_domain(organization, "acme.example", actor=actor)
    theirs = add_domain(OrganizationFactory(), "acme.example", actor=actor)
    dns_server.publish(NAME, ours.record_value, theirs.record_value)
    assert verify_domain(theirs, actor=actor) is True
    monkeypatch.setattr(domains, "_verified_elsewhere", lambda *args: False)

    assert verify_domain(ours, actor=actor) is False

    ours.refresh_from_db()
    assert not ours.is_verified
    assert ours.last_check_error == "acme.example is already verified by another account."
    assert [e.type for e in account_events(organization)] == ["domain.added"]


def test_dns_that_does_not_answer_is_a_reason(organization, actor, silent_dns):
    domain = add_domain(organization, "acme.example", actor=actor)
    started = time.monotonic()

    assert verify_domain(domain, actor=actor) is False

    assert time.monotonic() - started < 5
    domain.refresh_from_db()
    assert domain.last_check_error.startswith(f"DNS did not answer in time for {NAME}.")
    assert domain.last_checked_at is not None


def test_dns_that_fails_is_a_reason(organization, actor, dns_server):
    domain = add_domain(organization, "acme.example", actor=actor)
    dns_server.publish(NAME, domain.record_value)
    dns_server.fail()

    assert verify_domain(domain, actor=actor) is False
    assert "returned an error" in domain.last_check_error

    dns_server.fail(False)
    assert verify_domain(domain, actor=actor) is True
    assert domain.last_check_error == ""


def test_an_international_domain_is_normalised(organization, actor, dns_server):
    domain = add_domain(organization, " Bücher.Example. ", actor=actor)
    assert domain.domain == "xn--bcher-kva.example"
    assert domain.unicode_domain == "bücher.example"
    assert domain.record_name == "_scim-portal-verification.xn--bcher-kva.example"
    with pytest.raises(DomainError, match="already added"):
        add_domain(organization, "xn--bcher-kva.example", actor=actor)
    dns_server.publish(domain.record_name, domain.record_value)

    assert verify_domain(domain, actor=actor) is True
    assert is_verified_for(organization, "ada@BÜCHER.example")


def fake_lookup(name):
    return {"_scim-portal-verification.acme.example": ["scim-portal-verification=fixed"]}.get(
        name, []
    )


def test_the_lookup_is_the_function_the_settings_name(organization, actor):
    domain = add_domain(organization, "acme.example", actor=actor)
    domain.verification_token = "fixed"
    domain.save()
    lookup = "tests.provisioning.test_domains.fake_lookup"
    with override_settings(SCIM_PORTAL={**settings.SCIM_PORTAL, "DOMAIN_TXT_LOOKUP": lookup}):
        assert verify_domain(domain, actor=actor) is True


def test_a_verified_domain_is_not_looked_up_again(organization, actor, dns_server):
    domain = add_domain(organization, "acme.example", actor=actor)
    mark_verified(domain, actor=actor)
    assert verify_domain(domain, actor=actor) is True
    assert dns_server.zone.queries == []


def test_staff_mark_a_domain_verified(organization, actor):
    staff = UserFactory(username="support", is_staff=True)
    domain = add_domain(organization, "acme.example", actor=actor)

    assert mark_verified(domain, actor=Actor.for_user(staff, via="admin")) is True
    assert mark_verified(domain, actor=Actor.for_user(staff, via="admin")) is False

    domain.refresh_from_db()
    assert domain.verification_method == "staff" and domain.verified_by == staff
    event = account_events(organization)[-1]
    assert event.type == "domain.verified" and event.changes["method"] == "staff"
    assert event.actor == {
        "type": "user",
        "id": staff.pk,
        "username": "support",
        "via": "admin",
        "staff": True,
    }


def test_staff_cannot_mark_a_domain_another_account_verified(organization, actor):
    ours = add_domain(organization, "acme.example", actor=actor)
    theirs = add_domain(OrganizationFactory(), "acme.example", actor=actor)
    mark_verified(theirs, actor=actor)
    with pytest.raises(DomainError, match="already verified by another account"):
        mark_verified(ours, actor=actor)
    ours.refresh_from_db()
    assert not ours.is_verified


def test_remove_a_verified_domain(organization, actor):
    domain = add_domain(organization, "acme.example", actor=actor)
    mark_verified(domain, actor=actor)
    pk = domain.pk

    remove_domain(domain, actor=actor)
    remove_domain(domain, actor=actor)  # already gone: nothing more happens

    assert not AccountDomain.objects.filter(pk=pk).exists()
    assert not is_verified_for(organization, "ada@acme.example")
    events = account_events(organization)
    assert [e.type for e in events] == ["domain.added", "domain.verified", "domain.removed"]
    assert events[-1].resource_id == str(pk)
    assert events[-1].changes == {
        "domain": "acme.example",
        "status": {"old": "verified", "new": "removed"},
    }
    # Once removed, another account may add and verify it.
    other = add_domain(OrganizationFactory(), "acme.example", actor=actor)
    assert mark_verified(other, actor=actor) is True


def test_domains_are_idna_2008_so_strasse_is_not_strasse_with_eszett():
    """The owner of strasse.de must not claim people at straße.de, a different domain."""
    from scim_portal.provisioning.domains import domain_of, normalize_domain

    assert normalize_domain("straße.de") == "xn--strae-oqa.de"
    assert domain_of("ceo@straße.de") != normalize_domain("strasse.de")
    assert domain_of("CEO@Bücher.Example.") == "xn--bcher-kva.example"
    with pytest.raises(ValueError):
        normalize_domain("a\u200db.example")  # a joiner that IDNA 2003 silently dropped
