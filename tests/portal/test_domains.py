"""The Verified domains page of the Provisioning tab, with the Django test client and a
real DNS server."""

import html

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from scim_portal.models import AccountDomain, ProvisioningEvent
from scim_portal.provisioning.domains import add_domain, mark_verified
from scim_portal.provisioning.events import Actor

pytestmark = pytest.mark.django_db
PAGE = "/provisioning/acme/domains/"


def client_for(setup, who):
    client = Client()
    client.force_login(setup["people"][who])
    return client


@pytest.fixture
def admin(setup):
    return client_for(setup, "admin")


def page_of(client):
    response = client.get(PAGE)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_connection_list_links_to_the_domains_page(admin):
    assert f'href="{PAGE}"' in admin.get("/provisioning/acme/").content.decode()


def test_add_a_domain_then_publish_its_record_and_verify(admin, setup, dns_server):
    assert "No domain yet." in page_of(admin)

    added = admin.post(PAGE, {"domain": "Acme.Example"})

    assert added.status_code == 302 and added["Location"] == PAGE
    domain = AccountDomain.objects.get(account=setup["account"])
    assert domain.domain == "acme.example"
    page = page_of(admin)
    assert "Not verified" in page
    assert f'id="txt-name-{domain.pk}" value="{domain.record_name}"' in page
    assert f'id="txt-value-{domain.pk}" value="{domain.record_value}"' in page
    assert f'data-copy-target="txt-value-{domain.pk}"' in page

    dns_server.publish(domain.record_name, domain.record_value)
    verified = admin.post(f"{PAGE}{domain.pk}/verify/")

    assert verified.status_code == 302
    assert messages_of(verified)[-1] == "acme.example is verified."
    page = page_of(admin)
    assert "Verified" in page and "Not verified" not in page
    assert domain.record_value not in page  # nothing left to publish
    history = page[page.index("History") :]
    assert "Domain Verified" in history and "Domain Added" in history and "admin" in history
    event = ProvisioningEvent.objects.get(type="domain.verified")
    assert event.actor["via"] == "portal" and event.actor_user == setup["people"]["admin"]


def test_a_failed_check_shows_why(admin, setup, dns_server):
    domain = add_domain(setup["account"], "acme.example", actor=Actor())
    dns_server.publish(domain.record_name, "scim-portal-verification=wrong")

    response = admin.post(f"{PAGE}{domain.pk}/verify/")

    assert response.status_code == 302
    [message] = messages_of(response)
    assert message.startswith("acme.example is not verified yet: A TXT record exists")
    page = page_of(admin)
    assert "Not verified" in page and "but none holds" in page and "wrong" not in page


def test_dns_that_does_not_answer_is_explained_not_a_500(admin, setup, silent_dns):
    domain = add_domain(setup["account"], "acme.example", actor=Actor())

    response = admin.post(f"{PAGE}{domain.pk}/verify/")

    assert response.status_code == 302
    assert "DNS did not answer in time" in page_of(admin)


def test_invalid_or_taken_domains_are_explained(admin, setup):
    response = admin.post(PAGE, {"domain": "not a domain"})
    assert response.status_code == 400
    assert "is not a domain name" in html.unescape(response.content.decode())

    other = setup["other_connection"].account
    mark_verified(add_domain(other, "globex.example", actor=Actor()), actor=Actor())
    response = admin.post(PAGE, {"domain": "globex.example"})
    assert response.status_code == 400
    assert "globex.example is already verified by another account." in response.content.decode()
    assert not AccountDomain.objects.filter(account=setup["account"]).exists()


def test_remove_asks_first(admin, setup):
    domain = add_domain(setup["account"], "acme.example", actor=Actor())
    mark_verified(domain, actor=Actor())

    confirm = admin.get(f"{PAGE}{domain.pk}/remove/")

    assert confirm.status_code == 200
    text = confirm.content.decode()
    assert "is verified for Acme" in text and "Remove domain" in text
    assert AccountDomain.objects.filter(pk=domain.pk).exists()
    removed = admin.post(f"{PAGE}{domain.pk}/remove/")
    assert removed.status_code == 302 and messages_of(removed) == ["Removed acme.example."]
    assert not AccountDomain.objects.filter(pk=domain.pk).exists()
    assert "Domain Removed" in page_of(admin)


def test_an_international_domain_is_shown_as_written(admin, setup):
    admin.post(PAGE, {"domain": "bücher.example"})
    page = page_of(admin)
    assert "bücher.example" in page and "(xn--bcher-kva.example)" in page
    assert 'value="_scim-portal-verification.xn--bcher-kva.example"' in page


def test_readers_see_domains_and_records_but_no_forms(setup):
    domain = add_domain(setup["account"], "acme.example", actor=Actor())
    page = page_of(client_for(setup, "auditor"))
    assert domain.record_value in page  # they may publish it for an admin to verify
    assert "<form" not in page and "Remove" not in page


def test_another_accounts_domain_is_404(admin, setup):
    theirs = add_domain(setup["other_connection"].account, "globex.example", actor=Actor())
    assert admin.post(f"{PAGE}{theirs.pk}/verify/").status_code == 404
    assert admin.get(f"{PAGE}{theirs.pk}/remove/").status_code == 404
    assert admin.post(f"{PAGE}{theirs.pk}/remove/").status_code == 404
    assert admin.post(f"{PAGE}999999/verify/").status_code == 404
    assert AccountDomain.objects.filter(pk=theirs.pk).exists()
