"""The permission matrix of the Provisioning tab: every view and action, every person."""

import uuid

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

READ_VIEWS = ["", "users/", "users/{user}/", "groups/", "groups/{group}/", "logs/",
              "logs/{log}/", "activity/", "tokens/", "settings/"]  # fmt: skip


def page_urls(setup):
    connection = setup["connection"]
    values = {"user": setup["user"].pk, "group": setup["group"].pk, "log": setup["log"].pk}
    urls = {"list": "/provisioning/acme/"}
    for view in READ_VIEWS:
        urls[view or "detail"] = f"/provisioning/acme/{connection.pk}/" + view.format(**values)
    return urls


def actions(setup):
    connection, token = setup["connection"], setup["token"]
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
    }


def client_for(setup, who):
    client = Client()
    if who != "anonymous":
        client.force_login(setup["people"][who])
    return client


@pytest.mark.parametrize("who", ["admin", "auditor", "member", "other_admin", "anonymous"])
def test_pages(setup, who):
    client = client_for(setup, who)
    expected_read = {"admin": 200, "auditor": 200, "member": 403, "other_admin": 403}
    for name, url in page_urls(setup).items():
        response = client.get(url)
        if who == "anonymous":
            assert response.status_code == 302 and "/login/" in response["Location"], name
        else:
            assert response.status_code == expected_read[who], (who, name)
    for name, path, needed in [
        ("create", "/provisioning/acme/new/", "create"),
        ("delete", f"/provisioning/acme/{setup['connection'].pk}/delete/", "delete"),
    ]:
        response = client.get(path)
        if who == "anonymous":
            assert response.status_code == 302
        else:
            allowed = who == "admin"
            assert response.status_code == (200 if allowed else 403), (who, name, needed)


@pytest.mark.parametrize("who", ["admin", "auditor", "member", "other_admin", "anonymous"])
@pytest.mark.parametrize(
    "action", ["create", "rotate", "settings", "mapping", "unmap", "revoke", "delete"]
)
def test_actions(setup, who, action):
    client = client_for(setup, who)
    url, data, _needed = actions(setup)[action]
    response = client.post(url, data)
    if who == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
    elif who == "admin":
        assert response.status_code in (200, 302), response.content[:500]
    else:
        assert response.status_code == 403


def test_auditor_sees_no_write_controls(setup, base):
    client = client_for(setup, "auditor")
    assert "New connection" not in client.get("/provisioning/acme/").content.decode()
    tokens = client.get(base + "/tokens/").content.decode()
    assert "Revoke" not in tokens and "Issue token" not in tokens
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
