"""OAuth applications in Django admin: registered with a secret shown once, the secret
regenerated, the application revoked with its authorisations; every change audited."""

import base64
import logging
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.test import Client

from scim_portal.models import AccessToken, Credential, OAuthApplication, ProvisioningEvent
from scim_portal.oauth.clients import query_client
from tests.admin.test_admin import ADMIN, staff_with
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
REDIRECT = "https://acme.okta.example/admin/app/cpc/yourapp/oauth/callback"


@pytest.fixture
def staff(db):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True, username="vendor"))
    return client


def field(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*value="([^"]*)"', page)
    assert match, page[:3000]
    return match[1]


def register(staff, name="Okta OIN app", redirect_uris=REDIRECT):
    return staff.post(
        f"{ADMIN}/oauthapplication/add/", {"name": name, "redirect_uris": redirect_uris}
    )


def test_register_shows_client_id_and_secret_once(staff, caplog):
    with caplog.at_level(logging.INFO, logger="scim_portal.admin"):
        response = register(staff, redirect_uris=f"  {REDIRECT}  \n\nhttp://localhost:8080/cb\n")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    page = response.content.decode()
    client_id, secret = field(page, "client-id"), field(page, "client-secret")
    assert "shown only once" in page
    assert field(page, "authorize-url") == "https://saas.example.test/scim/oauth/authorize"
    application = OAuthApplication.objects.get()
    assert application.client_id == client_id and application.check_secret(secret)
    assert application.redirect_uri_list == [REDIRECT, "http://localhost:8080/cb"]
    assert secret not in str(OAuthApplication.objects.values_list())
    for url in (f"{ADMIN}/oauthapplication/", f"{ADMIN}/oauthapplication/{application.pk}/change/"):
        listed = staff.get(url).content.decode()
        assert secret not in listed and application.secret_prefix in listed
    assert LogEntry.objects.get(object_id=str(application.pk)).action_flag == ADDITION
    assert "registered by vendor" in caplog.text and client_id in caplog.text
    assert secret not in caplog.text


@pytest.mark.parametrize(
    ("uris", "message"),
    [
        ("", "This field is required"),
        ("not a url", "is not a URL"),
        ("http://okta.example/cb", "use https"),
        (f"{REDIRECT}#frag", "no #fragment"),
    ],
)
def test_register_refuses_bad_redirect_uris(staff, uris, message):
    response = register(staff, redirect_uris=uris)
    assert message in response.content.decode()
    assert not OAuthApplication.objects.exists()


def authorise_and_exchange(client_id, secret, setup):
    """The authorization code flow for ``setup``'s connection, by acme's admin: the
    access and refresh tokens."""
    person = Client()
    person.force_login(setup["people"]["admin"])
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
             "state": "xyz"}  # fmt: skip
    answer = person.post(
        "/scim/oauth/authorize?" + urlencode(query),
        {"decision": "allow", "connection": str(setup["connection"].pk)},
        secure=True,
    )
    assert answer.status_code == 302, answer.content
    code = parse_qs(urlsplit(answer["Location"]).query)["code"][0]
    token = Client().post(
        "/scim/oauth/token",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode(),
        secure=True,
    )
    assert token.status_code == 200, token.content
    return token.json()


def test_regenerate_secret_replaces_it_at_once(staff, setup, caplog):
    page = register(staff).content.decode()
    client_id, old = field(page, "client-id"), field(page, "client-secret")
    application = OAuthApplication.objects.get()
    url = f"{ADMIN}/oauthapplication/{application.pk}/regenerate-secret/"
    change = staff.get(f"{ADMIN}/oauthapplication/{application.pk}/change/").content.decode()
    assert url in change
    assert "stops working at once" in staff.get(url).content.decode()
    application.refresh_from_db()
    assert application.check_secret(old)  # GET changes nothing
    with caplog.at_level(logging.INFO, logger="scim_portal.admin"):
        response = staff.post(url)
    assert "no-store" in response["Cache-Control"]
    new = field(response.content.decode(), "client-secret")
    assert field(response.content.decode(), "client-id") == client_id
    application.refresh_from_db()
    assert not application.check_secret(old) and application.check_secret(new)
    authorise_and_exchange(client_id, new, setup)  # the new secret works at the token endpoint
    entry = LogEntry.objects.filter(object_id=str(application.pk), action_flag=CHANGE).get()
    assert "Regenerated" in entry.get_change_message()
    assert "secret regenerated by vendor" in caplog.text
    assert new not in caplog.text and old not in caplog.text


def test_revoke_ends_the_application_and_its_authorisations(staff, setup, client, caplog):
    page = register(staff).content.decode()
    client_id, secret = field(page, "client-id"), field(page, "client-secret")
    tokens = authorise_and_exchange(client_id, secret, setup)
    scim = f"/scim/v2/{setup['connection'].pk}/Users"
    bearer = f"Bearer {tokens['access_token']}"
    assert client.get(scim, HTTP_AUTHORIZATION=bearer).status_code == 200
    application = OAuthApplication.objects.get()
    url = f"{ADMIN}/oauthapplication/{application.pk}/revoke/"
    confirm = staff.get(url).content.decode()
    assert "1 live authorisation(s)" in confirm and "Yes, revoke it" in confirm
    with caplog.at_level(logging.INFO, logger="scim_portal.admin"):
        assert staff.post(url).status_code == 302
    application.refresh_from_db()
    assert application.revoked_at is not None and query_client(client_id) is None
    authorization = Credential.objects.get(kind="authorization")
    assert authorization.is_revoked
    assert not AccessToken.objects.filter(revoked_at__isnull=True).exists()
    assert client.get(scim, HTTP_AUTHORIZATION=bearer).status_code == 401
    refreshed = Client().post(
        "/scim/oauth/token",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode(),
        secure=True,
    )
    assert refreshed.status_code == 401 and refreshed.json()["error"] == "invalid_client"
    event = ProvisioningEvent.objects.get(type="credential.revoked")
    assert event.actor["via"] == "admin" and event.changes["kind"] == "authorization"
    assert "revoked by vendor, with 1 authorisation(s)" in caplog.text
    # A revoked application is read-only and gets no new secret.
    change = staff.get(f"{ADMIN}/oauthapplication/{application.pk}/change/").content.decode()
    assert "regenerate-secret" not in change
    staff.post(f"{ADMIN}/oauthapplication/{application.pk}/regenerate-secret/")
    application.refresh_from_db()
    assert application.check_secret(secret) is False  # revoked: no secret checks
    assert OAuthApplication.objects.get().secret_digest == application.secret_digest


def test_changing_redirect_uris_is_audited(staff, caplog):
    register(staff)
    application = OAuthApplication.objects.get()
    with caplog.at_level(logging.INFO, logger="scim_portal.admin"):
        response = staff.post(
            f"{ADMIN}/oauthapplication/{application.pk}/change/",
            {"name": "Okta OIN app", "redirect_uris": REDIRECT + "2"},
        )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.redirect_uri_list == [REDIRECT + "2"]
    assert "changed by vendor: redirect_uris" in caplog.text
    assert LogEntry.objects.filter(object_id=str(application.pk), action_flag=CHANGE).exists()


def test_staff_need_the_model_permissions_and_csrf(staff):
    register(staff)
    application = OAuthApplication.objects.get()
    digest = application.secret_digest
    viewer = staff_with("view_oauthapplication")
    assert viewer.get(f"{ADMIN}/oauthapplication/").status_code == 200
    assert viewer.get(f"{ADMIN}/oauthapplication/add/").status_code == 403
    for action in ("regenerate-secret", "revoke"):
        assert (
            viewer.post(f"{ADMIN}/oauthapplication/{application.pk}/{action}/").status_code == 403
        )
    assert staff.get(f"{ADMIN}/oauthapplication/{application.pk}/delete/").status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert strict.post(f"{ADMIN}/oauthapplication/{application.pk}/revoke/").status_code == 403
    application.refresh_from_db()
    assert application.revoked_at is None and application.secret_digest == digest
    nobody = Client()
    nobody.force_login(UserFactory(is_staff=False))
    response = nobody.post(f"{ADMIN}/oauthapplication/{application.pk}/revoke/")
    assert response.status_code == 302 and "/login/" in response["Location"]
