"""Vendor staff issue and revoke connection credentials of every kind in Django admin."""

import re

import pytest
from django.test import Client

from scim_portal.models import AccessToken, Credential, ProvisioningEvent
from scim_portal.provisioning import issue_credential
from tests.admin.test_admin import ADMIN, field, staff_with
from tests.scim_client import basic_auth as basic

pytestmark = pytest.mark.django_db
TOKEN_URL = "/scim/oauth/token"


def issue(staff, connection, **data):
    return staff.post(f"{ADMIN}/connection/{connection.pk}/issue-credential/", data)


def test_inline_lists_every_kind_with_revoke_links_for_usable_ones(staff, setup):
    connection = setup["connection"]
    basic_issued = issue_credential(connection, "basic", label="Okta Basic")
    secret = issue_credential(connection, "client_secret", label="Entra")
    federated = issue_credential(
        connection, "federated", issuer="https://login.example/t", subject="app-123",
        audience="api://scim",
    )  # fmt: skip
    from scim_portal.provisioning import revoke_credential

    revoke_credential(secret.credential)
    page = staff.get(f"{ADMIN}/connection/{connection.pk}/change/").content.decode()
    for text in ("HTTP Basic", "OAuth client secret", "Federated JWT issuer", "Bearer token"):
        assert text in page
    assert basic_issued.credential.username in page and "app-123" in page
    assert secret.credential.prefix + "…" in page and "revoked" in page
    assert connection.oauth_client_id in page  # the connection's client id, read-only
    assert "https://saas.example.test/scim/oauth/token" in page
    for raw in (basic_issued.raw, secret.raw):
        assert raw not in page
    links = re.findall(r'href="([^"]*/credentials/(\d+)/revoke/)"', page)
    assert {int(pk) for _, pk in links} == {
        setup["token"].pk, basic_issued.credential.pk, federated.credential.pk,
    }  # fmt: skip


def test_issue_basic_shows_username_and_password_once(staff, setup, client):
    connection = setup["connection"]
    form = staff.get(f"{ADMIN}/connection/{connection.pk}/issue-credential/").content.decode()
    assert 'name="kind"' in form and "Federated JWT issuer only" in form
    response = issue(staff, connection, kind="basic", label="Okta")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    page = response.content.decode()
    username, password = field(page, "basic-username"), field(page, "basic-password")
    assert "shown only once" in page
    scim = f"/scim/v2/{connection.pk}/Users"
    assert client.get(scim, HTTP_AUTHORIZATION=basic(username, password)).status_code == 200
    change = staff.get(f"{ADMIN}/connection/{connection.pk}/change/").content.decode()
    assert password not in change and username in change
    event = ProvisioningEvent.objects.filter(type="credential.issued").latest("number")
    assert event.actor["via"] == "admin" and event.actor["username"] == "vendor"
    assert event.changes["label"] == "Okta"


def test_issue_client_secret_shows_client_id_secret_and_token_endpoint(staff, setup, client):
    connection = setup["connection"]
    response = issue(staff, connection, kind="client_secret")
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    client_id, secret = field(page, "client-id"), field(page, "client-secret")
    assert field(page, "token-endpoint") == "https://saas.example.test/scim/oauth/token"
    token = client.post(
        TOKEN_URL, {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(client_id, secret), secure=True,
    )  # fmt: skip
    assert token.status_code == 200, token.content
    scim = f"/scim/v2/{connection.pk}/Users"
    bearer = f"Bearer {token.json()['access_token']}"
    assert client.get(scim, HTTP_AUTHORIZATION=bearer).status_code == 200


def test_issue_federated_shows_no_secret(staff, setup):
    connection = setup["connection"]
    response = issue(
        staff, connection, kind="federated", issuer="https://login.example/t",
        subject="app-123", audience="api://scim",
    )  # fmt: skip
    page = response.content.decode()
    assert field(page, "client-id").startswith("scimc_")
    assert "client-secret" not in page and "No secret" in page and "app-123" in page
    credential = Credential.objects.get(kind="federated")
    assert (credential.issuer, credential.audience) == ("https://login.example/t", "api://scim")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "federated", "issuer": "https://login.example/t"}, "needs this"),
        ({"kind": "bearer", "issuer": "https://login.example/t"}, "Only a federated issuer"),
        (
            {"kind": "federated", "issuer": "http://login.example/t", "subject": "s",
             "audience": "a"},
            "https://",
        ),
        ({"kind": "basic", "expires_at": "2001-01-01 00:00"}, "future"),
        ({"kind": "authorization"}, "Select a valid choice"),
    ],
)  # fmt: skip
def test_issue_refuses_bad_input_and_issues_nothing(staff, setup, data, message):
    before = Credential.objects.count()
    response = issue(staff, setup["connection"], **data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Credential.objects.count() == before


def test_issue_token_shortcut_still_issues_a_bearer_token(staff, setup):
    connection = setup["connection"]
    response = staff.post(
        f"{ADMIN}/connection/{connection.pk}/issue-token/", {"label": "x", "kind": "basic"}
    )
    token = field(response.content.decode(), "scim-token")
    assert Credential.objects.by_value(token).kind == "bearer"


def test_revoke_a_client_secret_ends_its_access_tokens(staff, setup, client):
    connection = setup["connection"]
    secret = issue_credential(connection, "client_secret")
    connection.refresh_from_db()
    access = client.post(
        TOKEN_URL, {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(connection.oauth_client_id, secret.raw), secure=True,
    ).json()["access_token"]  # fmt: skip
    url = f"{ADMIN}/connection/{connection.pk}/credentials/{secret.credential.pk}/revoke/"
    confirm = staff.get(url).content.decode()
    assert "Yes, revoke it" in confirm and "OAuth client secret" in confirm
    assert Credential.objects.get(pk=secret.credential.pk).is_usable  # GET changes nothing
    response = staff.post(url)
    assert response.status_code == 302
    assert not Credential.objects.get(pk=secret.credential.pk).is_usable
    assert AccessToken.objects.get().revoked_at is not None
    scim = f"/scim/v2/{connection.pk}/Users"
    assert client.get(scim, HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401
    event = ProvisioningEvent.objects.get(type="credential.revoked")
    assert event.actor["via"] == "admin" and event.actor["staff"] is True
    assert "already revoked" in staff.get(url).content.decode()


def test_credential_of_another_connection_is_404(staff, setup):
    theirs = Credential.objects.get(connection=setup["other_connection"])
    url = f"{ADMIN}/connection/{setup['connection'].pk}/credentials/{theirs.pk}/revoke/"
    assert staff.post(url).status_code == 404
    assert Credential.objects.get(pk=theirs.pk).is_usable


def test_permissions_and_csrf(setup):
    connection = setup["connection"]
    viewer = staff_with("view_connection")
    assert viewer.post(f"{ADMIN}/connection/{connection.pk}/issue-credential/", {
        "kind": "basic",
    }).status_code == 403  # fmt: skip
    assert not Credential.objects.filter(kind="basic").exists()
    changer = staff_with("view_connection", "change_connection")
    assert issue(changer, connection, kind="basic").status_code == 200
    revoke = f"{ADMIN}/connection/{connection.pk}/credentials/{setup['token'].pk}/revoke/"
    assert changer.post(revoke).status_code == 403  # revoking needs the delete permission
    assert Credential.objects.get(pk=setup["token"].pk).is_usable

    from tests.factories import UserFactory

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert strict.post(revoke).status_code == 403
    assert issue(strict, connection, kind="bearer").status_code == 403
    assert Credential.objects.get(pk=setup["token"].pk).is_usable
