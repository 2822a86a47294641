"""Verified domains and account events through the management API, against a real DNS
server."""

import pytest
from django.test import Client

from scim_portal import permissions
from scim_portal.models import AccountDomain, EnvironmentKey
from scim_portal.provisioning.domains import add_domain, mark_verified
from scim_portal.provisioning.events import Actor
from tests.api.test_api import API, as_person, call
from tests.conftest import grant
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
DOMAINS = f"{API}/accounts/acme/domains/"


@pytest.fixture
def env_key(db):
    _key, raw = EnvironmentKey.issue("CI automation")
    return raw


#: What each caller may do on account A beyond reading.
POWERS = {"admin": {"create", "delete"}, "env": {"create", "delete"}, "creator": {"create"}}


@pytest.fixture
def domain(setup):
    """A domain of account A, and a person who may read and create there, not delete."""
    creator = UserFactory(username="creator")
    setup["people"]["creator"] = grant(
        creator, setup["account"], permissions.READ, permissions.CREATE
    )
    return add_domain(setup["account"], "acme.example", actor=Actor())


def endpoints(domain):
    one = f"{DOMAINS}{domain.pk}/"
    return {
        "list": ("get", DOMAINS, None, "read"),
        "retrieve": ("get", one, None, "read"),
        "events": ("get", f"{API}/accounts/acme/events/", None, "read"),
        "add": ("post", DOMAINS, {"domain": "acme.test"}, "create"),
        "verify": ("post", one + "verify/", None, "create"),
        "remove": ("delete", one, None, "delete"),
    }


@pytest.mark.parametrize(
    "who", ["admin", "creator", "auditor", "member", "other_admin", "anonymous", "env"]
)
@pytest.mark.parametrize("endpoint", ["list", "retrieve", "events", "add", "verify", "remove"])
def test_permission_matrix(setup, domain, dns_server, env_key, who, endpoint):
    method, url, data, needed = endpoints(domain)[endpoint]
    client = Client() if who == "env" else as_person(setup, who)
    response = call(client, method, url, data, key=env_key if who == "env" else None)
    readers = {"admin", "creator", "auditor", "env"}
    allowed = needed in POWERS.get(who, set()) or (needed == "read" and who in readers)
    if who == "anonymous":
        assert response.status_code == 401
    elif allowed:
        assert response.status_code in (200, 201, 204), response.content
    else:
        assert response.status_code == 403
        assert list(AccountDomain.objects.values_list("domain", "verified_at")) == [
            ("acme.example", None)
        ]


def test_add_publish_verify_remove(setup, dns_server, env_key):
    client = Client()
    added = call(client, "post", DOMAINS, {"domain": "Bücher.Example"}, key=env_key)

    assert added.status_code == 201
    body = added.json()
    assert body["domain"] == "xn--bcher-kva.example" and body["verified"] is False
    assert body["record_name"] == "_scim-portal-verification.xn--bcher-kva.example"
    token = AccountDomain.objects.get(pk=body["id"]).verification_token
    assert body["record_value"] == f"scim-portal-verification={token}"
    assert [row["id"] for row in call(client, "get", DOMAINS, key=env_key).json()] == [body["id"]]

    url = f"{DOMAINS}{body['id']}/"
    missing = call(client, "post", url + "verify/", key=env_key)
    assert missing.status_code == 200
    assert missing.json()["verified"] is False
    assert missing.json()["reason"].startswith("No TXT record was found at _scim-portal")
    assert missing.json()["domain"]["last_check_error"] == missing.json()["reason"]

    dns_server.publish(body["record_name"], body["record_value"])
    checked = call(client, "post", url + "verify/", key=env_key).json()
    assert checked["verified"] is True and checked["reason"] == ""
    assert checked["domain"]["verification_method"] == "dns"
    assert call(client, "get", url, key=env_key).json()["verified"] is True

    assert call(client, "delete", url, key=env_key).status_code == 204
    assert call(client, "get", url, key=env_key).status_code == 404


def test_dns_that_does_not_answer_is_a_200_with_a_reason(setup, domain, silent_dns):
    response = call(as_person(setup, "admin"), "post", f"{DOMAINS}{domain.pk}/verify/")
    assert response.status_code == 200
    assert response.json()["verified"] is False
    assert "DNS did not answer in time" in response.json()["reason"]


def test_refusals_are_400_with_the_reason(setup, env_key):
    client = Client()
    bad = call(client, "post", DOMAINS, {"domain": "not a domain"}, key=env_key)
    assert bad.status_code == 400 and "is not a domain name" in bad.json()["domain"][0]
    assert call(client, "post", DOMAINS, {}, key=env_key).status_code == 400
    theirs = add_domain(setup["other_connection"].account, "globex.example", actor=Actor())
    mark_verified(theirs, actor=Actor())
    taken = call(client, "post", DOMAINS, {"domain": "globex.example"}, key=env_key)
    assert taken.status_code == 400
    assert taken.json() == {"domain": ["globex.example is already verified by another account."]}


def test_another_accounts_domain_is_404(setup, dns_server, env_key):
    theirs = add_domain(setup["other_connection"].account, "globex.example", actor=Actor())
    admin = as_person(setup, "admin")
    for method, suffix in (("get", ""), ("post", "verify/"), ("delete", "")):
        response = call(admin, method, f"{DOMAINS}{theirs.pk}/{suffix}")
        assert response.status_code == 404, (method, suffix)
    assert call(Client(), "get", f"{DOMAINS}{theirs.pk}/", key=env_key).status_code == 404
    assert AccountDomain.objects.filter(pk=theirs.pk).exists()


def test_account_events_page_with_after(setup, env_key):
    account, client = setup["account"], Client()
    for index in range(4):
        domain = add_domain(account, f"d{index}.example", actor=Actor())
        mark_verified(domain, actor=Actor())
    add_domain(setup["other_connection"].account, "globex.example", actor=Actor())
    url = f"{API}/accounts/acme/events/"
    seen, after = [], 0
    while True:
        body = call(client, "get", url, {"after": after, "limit": 3}, key=env_key).json()
        seen += body["events"]
        after = body["next_after"]
        if not body["has_more"]:
            break
    assert [event["type"] for event in seen] == ["domain.added", "domain.verified"] * 4
    assert [event["id"] for event in seen] == sorted(event["id"] for event in seen)
    assert {event["number"] for event in seen} == {None}
    assert seen[0]["changes"] == {"domain": "d0.example"} and seen[0]["resource_type"] == "Domain"
    assert call(client, "get", url, {"after": after}, key=env_key).json()["events"] == []
    # Events of connections are not in the account's feed.
    assert setup["connection"].events.exists()
    assert call(client, "get", url, {"limit": "x"}, key=env_key).status_code == 400


def test_actor_of_a_person_through_the_api(setup, dns_server):
    admin = as_person(setup, "admin")
    call(admin, "post", DOMAINS, {"domain": "acme.example"})
    event = call(admin, "get", f"{API}/accounts/acme/events/").json()["events"][0]
    assert event["actor"] == {
        "type": "user",
        "id": setup["people"]["admin"].pk,
        "username": "admin",
        "via": "api",
    }
    assert AccountDomain.objects.get().created_by == setup["people"]["admin"]
