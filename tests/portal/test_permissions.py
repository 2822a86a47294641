"""The permission matrix of the Provisioning tab: every view and action, every person."""

import uuid

import pytest
from django.test import Client

from scim_portal import permissions
from scim_portal.provisioning.domains import add_domain
from scim_portal.provisioning.events import Actor
from tests.conftest import grant
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

READ_VIEWS = ["", "users/", "users/{user}/", "groups/", "groups/{group}/", "logs/",
              "logs/{log}/", "activity/", "tokens/", "settings/"]  # fmt: skip
#: What each person may do on account A ("creator" may create but not delete).
POWERS = {"admin": {"create", "delete"}, "creator": {"create"}, "auditor": set()}
PEOPLE = ["admin", "creator", "auditor", "member", "other_admin", "anonymous"]


@pytest.fixture(autouse=True)
def domain(setup, dns_server):
    """A domain of account A (not verified: its TXT record is nowhere in DNS), and a
    person who may read and create on account A, but not delete."""
    creator = UserFactory(username="creator")
    setup["people"]["creator"] = grant(
        creator, setup["account"], permissions.READ, permissions.CREATE
    )
    return add_domain(setup["account"], "acme.example", actor=Actor())


def page_urls(setup):
    connection = setup["connection"]
    values = {"user": setup["user"].pk, "group": setup["group"].pk, "log": setup["log"].pk}
    urls = {"list": "/provisioning/acme/", "domains": "/provisioning/acme/domains/"}
    for view in READ_VIEWS:
        urls[view or "detail"] = f"/provisioning/acme/{connection.pk}/" + view.format(**values)
    return urls


def actions(setup):
    connection, token = setup["connection"], setup["token"]
    domain = f"/provisioning/acme/domains/{setup['account'].scim_domains.get().pk}/"
    c = f"/provisioning/acme/{connection.pk}/"
    group = setup["group"].pk
    return {
        "create": (
            "/provisioning/acme/new/",
            {"name": "New", "provider": "okta", "nonce": uuid.uuid4().hex},
            "create",
        ),
        "rotate": (c + "tokens/rotate/", {"label": "x", "nonce": uuid.uuid4().hex}, "create"),
        "settings": (
            c + "settings/",
            {
                "form": "settings",
                "name": "Okta 2",
                "default_role": "viewer",
                "link_policy": "verified_email",
                "deprovision_policy": "remove",
                "out_of_domain_policy": "reject",
            },
            "create",
        ),
        "mapping": (
            c + "settings/",
            {"form": "mapping", "group": group, "role": "editor", "precedence": 5},
            "create",
        ),
        "unmap": (c + "settings/", {"form": "unmap", "group": group}, "create"),
        "revoke": (c + f"tokens/{token.pk}/revoke/", {}, "delete"),
        "delete": (c + "delete/", {"remove_directory": "on"}, "delete"),
        "add-domain": ("/provisioning/acme/domains/", {"domain": "acme.test"}, "create"),
        "verify-domain": (domain + "verify/", {}, "create"),
        "remove-domain": (domain + "remove/", {}, "delete"),
    }


def client_for(setup, who):
    client = Client()
    if who != "anonymous":
        client.force_login(setup["people"][who])
    return client


@pytest.mark.parametrize("who", PEOPLE)
def test_pages(setup, domain, who):
    client = client_for(setup, who)
    expected_read = {"member": 403, "other_admin": 403}
    for name, url in page_urls(setup).items():
        response = client.get(url)
        if who == "anonymous":
            assert response.status_code == 302 and "/login/" in response["Location"], name
        else:
            assert response.status_code == expected_read.get(who, 200), (who, name)
    for name, path, needed in [
        ("create", "/provisioning/acme/new/", "create"),
        ("delete", f"/provisioning/acme/{setup['connection'].pk}/delete/", "delete"),
        (
            "revoke",
            f"/provisioning/acme/{setup['connection'].pk}/tokens/{setup['token'].pk}/revoke/",
            "delete",
        ),
        ("remove-domain", f"/provisioning/acme/domains/{domain.pk}/remove/", "delete"),
    ]:
        response = client.get(path)
        if who == "anonymous":
            assert response.status_code == 302
        else:
            allowed = needed in POWERS.get(who, set())
            assert response.status_code == (200 if allowed else 403), (who, name, needed)


ACTIONS = ["create", "rotate", "settings", "mapping", "unmap", "revoke", "delete",
           "add-domain", "verify-domain", "remove-domain"]  # fmt: skip


@pytest.mark.parametrize("who", PEOPLE)
@pytest.mark.parametrize("action", ACTIONS)
def test_actions(setup, who, action):
    client = client_for(setup, who)
    url, data, needed = actions(setup)[action]
    response = client.post(url, data)
    allowed = needed in POWERS.get(who, set())
    if who == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
    elif allowed:
        assert response.status_code in (200, 302), response.content[:500]
    else:
        assert response.status_code == 403
    if not allowed:  # refused before anything was written
        domains = setup["account"].scim_domains.values_list("domain", "verified_at")
        assert list(domains) == [("acme.example", None)]


def test_auditor_sees_no_write_controls(setup, base):
    client = client_for(setup, "auditor")
    assert "New connection" not in client.get("/provisioning/acme/").content.decode()
    tokens = client.get(base + "/tokens/").content.decode()
    assert "Revoke" not in tokens and "Issue credential" not in tokens
    settings = client.get(base + "/settings/").content.decode()
    assert "<form" not in settings
    assert ">Delete<" not in client.get(base + "/").content.decode()


def test_another_accounts_connection_is_404(setup):
    client = client_for(setup, "admin")
    other = setup["other_connection"].pk
    assert client.get(f"/provisioning/acme/{other}/").status_code == 404
    assert client.post(f"/provisioning/acme/{other}/delete/", {}).status_code == 404
    assert client.get("/provisioning/nope/").status_code == 404


def test_every_form_needs_csrf(setup):
    client = Client(enforce_csrf_checks=True)
    client.force_login(setup["people"]["admin"])
    for url, data, _needed in actions(setup).values():
        assert client.post(url, data).status_code == 403, url
