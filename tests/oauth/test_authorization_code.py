"""Okta's OAuth 2.0 authorization code flow: the authorisation page, the code exchange
and refresh tokens, through Django's test client (the same flow in Chromium:
tests/portal/test_browser_oauth.py)."""

import base64
import hashlib
import re
import secrets
import threading
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone
from guardian.shortcuts import remove_perm

from scim_portal import permissions
from scim_portal.models import (
    AccessToken,
    AuthorizationCode,
    Credential,
    OAuthApplication,
    ProvisioningEvent,
    RequestLog,
)
from scim_portal.models.credentials import CODE_LIFETIME
from scim_portal.oauth import grants as grants_module
from scim_portal.oauth import server as server_module
from scim_portal.provisioning import revoke_application, revoke_credential
from scim_portal.provisioning.connections import create_connection, delete_connection
from scim_portal.provisioning.events import Actor
from tests.scim_client import basic_auth as basic

pytestmark = pytest.mark.django_db

AUTHORIZE_URL = "/scim/oauth/authorize"
TOKEN_URL = "/scim/oauth/token"
OKTA = "https://system-admin.okta.com/admin/app/cpc/acme_scim/oauth/callback"
OKTA_PREVIEW = "https://system-admin.oktapreview.com/admin/app/cpc/acme_scim/oauth/callback"


def register(name="Acme for Okta", redirect_uris=(OKTA, OKTA_PREVIEW)):
    """An application as staff register it; returns it and its secret."""
    application = OAuthApplication(name=name, redirect_uris="\n".join(redirect_uris))
    secret = application.set_secret()
    application.save()
    return application, secret


@pytest.fixture
def okta():
    return register()


def authorize_url(application, **params):
    query = {"response_type": "code", "client_id": application.client_id, "redirect_uri": OKTA}
    query.update(params)
    return f"{AUTHORIZE_URL}?{urlencode({k: v for k, v in query.items() if v is not None})}"


def consent(client, user, application, connection, decision="allow", **params):
    """The person's answer on the authorisation page (signed in as ``user``)."""
    client.force_login(user)
    return client.post(
        authorize_url(application, **params),
        {"connection": str(connection.pk), "decision": decision},
        secure=True,
    )


def query_of(response):
    assert response.status_code == 302, response.content
    location = urlsplit(response["Location"])
    return location._replace(query="", fragment="").geturl(), {
        key: values[0] for key, values in parse_qs(location.query).items()
    }


def code_for(client, setup, application, **params):
    _, query = query_of(
        consent(client, setup["people"]["admin"], application, setup["connection"], **params)
    )
    client.logout()
    return query["code"]


def exchange(client, application, secret, code, redirect_uri=OKTA, **extra):
    form = {"grant_type": "authorization_code", "code": code, **extra}
    if redirect_uri is not None:
        form["redirect_uri"] = redirect_uri
    return client.post(
        TOKEN_URL, form, HTTP_AUTHORIZATION=basic(application.client_id, secret), secure=True
    )


def refresh(client, application, secret, refresh_token):
    return client.post(
        TOKEN_URL,
        {"grant_type": "refresh_token", "refresh_token": refresh_token},
        HTTP_AUTHORIZATION=basic(application.client_id, secret),
        secure=True,
    )


def scim_status(client, connection, access_token):
    return client.get(
        f"/scim/v2/{connection.pk}/Users", HTTP_AUTHORIZATION=f"Bearer {access_token}"
    ).status_code


def tokens(client, setup, okta, **params):
    application, secret = okta
    response = exchange(client, application, secret, code_for(client, setup, application, **params))
    assert response.status_code == 200, response.content
    return response.json()


def test_admin_authorises_okta_which_exchanges_the_code_and_calls_scim(client, setup, okta):
    application, secret = okta
    admin, connection = setup["people"]["admin"], setup["connection"]
    client.force_login(admin)
    page = client.get(authorize_url(application, state="xyz"), secure=True)
    assert page.status_code == 200
    assert f'<option value="{connection.pk}">' in page.content.decode()
    assert str(setup["other_connection"].pk) not in page.content.decode()
    assert "system-admin.okta.com" in page.content.decode()

    target, query = query_of(consent(client, admin, application, connection, state="xyz"))
    assert target == OKTA and query["state"] == "xyz" and set(query) == {"code", "state"}
    client.logout()

    response = exchange(client, application, secret, query["code"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["access_token"].startswith("scimat_")
    assert body["refresh_token"].startswith("scimrt_")
    assert "no-store" in response["Cache-Control"]
    assert scim_status(client, connection, body["access_token"]) == 200

    credential = Credential.objects.get(connection=connection, kind="authorization")
    assert credential.label == "Authorised by admin"
    assert (credential.created_by, credential.application) == (admin, application)
    assert credential.prefix == "Acme for Okta"
    event = ProvisioningEvent.objects.get(type="credential.issued", resource_id=str(credential.pk))
    assert event.actor_user == admin
    assert event.actor["username"] == "admin" and event.actor["via"] == "portal"
    assert event.changes["kind"] == "authorization"
    stored = str(list(AuthorizationCode.objects.values())) + str(list(AccessToken.objects.values()))
    for secret_value in (query["code"], body["access_token"], body["refresh_token"]):
        assert secret_value not in stored


def test_an_application_with_a_long_name_is_logged_cut(client, setup):
    """An application's name (up to 100 characters) names its authorisations; the
    request log keeps its start, and PostgreSQL does not refuse the row."""
    name = "Acme Corporation provisioning for Okta (production tenant)"
    body = tokens(client, setup, register(name=name))
    assert body["access_token"].startswith("scimat_")
    row = RequestLog.objects.get(connection=setup["connection"], path=TOKEN_URL)
    assert (row.status, row.credential_kind) == (200, "authorization")
    assert name.startswith(row.token_prefix) and len(row.token_prefix) == 40


def test_without_state_none_comes_back(client, setup, okta):
    application, _ = okta
    _, query = query_of(consent(client, setup["people"]["admin"], application, setup["connection"]))
    assert set(query) == {"code"}


def test_a_code_is_single_use_and_a_replay_revokes_what_it_obtained(client, setup, okta):
    application, secret = okta
    code = code_for(client, setup, application)
    first = exchange(client, application, secret, code).json()
    assert scim_status(client, setup["connection"], first["access_token"]) == 200

    again = exchange(client, application, secret, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert scim_status(client, setup["connection"], first["access_token"]) == 401
    assert refresh(client, application, secret, first["refresh_token"]).json() == {
        "error": "invalid_grant"
    }
    credential = Credential.objects.get(kind="authorization")
    assert credential.revoked_at is not None
    assert ProvisioningEvent.objects.filter(
        type="credential.revoked", resource_id=str(credential.pk)
    ).exists()


def test_a_code_expires(client, setup, okta, monkeypatch):
    application, secret = okta
    code = code_for(client, setup, application)
    row = AuthorizationCode.objects.get()
    assert abs((row.expires_at - timezone.now()) - timedelta(seconds=CODE_LIFETIME)) < timedelta(
        seconds=5
    )
    later = row.expires_at + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    response = exchange(client, application, secret, code)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    assert not AccessToken.objects.exists()
    assert not Credential.objects.filter(kind="authorization").exists()


def test_redirect_uri_must_match_at_exchange(client, setup, okta):
    application, secret = okta
    code = code_for(client, setup, application)
    for wrong in (OKTA_PREVIEW, OKTA + "/", None):
        response = exchange(client, application, secret, code, redirect_uri=wrong)
        assert (response.status_code, response.json()["error"]) == (400, "invalid_grant"), wrong
    assert exchange(client, application, secret, code).status_code == 200
    # The tenant sees the failures in the connection's request log, without the code.
    log = RequestLog.objects.filter(connection=setup["connection"], path=TOKEN_URL)
    assert [row.status for row in log.order_by("id")] == [400, 400, 400, 200]
    assert "redirect_uri" in log.filter(status=400).first().detail
    assert code not in str(list(log.values()))


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/callback",
        OKTA + "?next=https://evil.example",
        OKTA.upper(),
        "https://system-admin.okta.com/admin/app/cpc/acme_scim/oauth/callback/../x",
        None,  # several are registered: the request must name one
    ],
)
def test_an_unregistered_redirect_uri_is_shown_here_and_never_followed(
    client, setup, okta, redirect_uri
):
    application, _ = okta
    client.force_login(setup["people"]["admin"])
    url = authorize_url(application, redirect_uri=redirect_uri, state="s")
    for response in (
        client.get(url, secure=True),
        client.post(
            url, {"connection": str(setup["connection"].pk), "decision": "allow"}, secure=True
        ),
        client.post(url, {"decision": "deny"}, secure=True),
    ):
        assert response.status_code == 400
        assert not response.has_header("Location")
        assert "This authorisation request is not valid" in response.content.decode()
    assert not AuthorizationCode.objects.exists()


def test_the_only_registered_redirect_uri_may_be_left_out(client, setup):
    application, secret = register(redirect_uris=[OKTA])
    admin, connection = setup["people"]["admin"], setup["connection"]
    target, query = query_of(consent(client, admin, application, connection, redirect_uri=None))
    assert target == OKTA
    response = exchange(client, application, secret, query["code"], redirect_uri=None)
    assert response.status_code == 200


@pytest.mark.parametrize("client_id", ["scima_doesnotexist00000000", "", "x" * 500])
def test_an_unknown_client_is_shown_here_and_never_followed(client, setup, okta, client_id):
    application, _ = okta
    client.force_login(setup["people"]["admin"])
    url = authorize_url(application, client_id=client_id)
    for response in (
        client.get(url, secure=True),
        client.post(
            url, {"connection": str(setup["connection"].pk), "decision": "allow"}, secure=True
        ),
    ):
        assert response.status_code == 400
        assert not response.has_header("Location")
        assert "invalid_client" in response.content.decode()
    assert not AuthorizationCode.objects.exists()


def test_a_connection_client_id_cannot_use_the_authorisation_page(client, setup):
    from scim_portal.provisioning import issue_credential

    issue_credential(setup["connection"], "client_secret")
    setup["connection"].refresh_from_db()
    client.force_login(setup["people"]["admin"])
    query = {"response_type": "code", "client_id": setup["connection"].oauth_client_id}
    response = client.get(f"{AUTHORIZE_URL}?{urlencode(query)}", secure=True)
    assert response.status_code == 400 and not response.has_header("Location")


def test_other_invalid_requests_go_back_to_the_client_with_an_error(client, setup, okta):
    application, _ = okta
    client.force_login(setup["people"]["admin"])
    for params, error in (
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": "a" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"scope": "s" * 201}, "invalid_scope"),
    ):
        response = client.get(authorize_url(application, state="q", **params), secure=True)
        target, query = query_of(response)
        assert (target, query["error"], query["state"]) == (OKTA, error, "q")
    assert not AuthorizationCode.objects.exists()


def test_a_scope_no_database_column_holds_goes_back_with_an_error(client, setup, okta):
    """PostgreSQL's text holds no NUL character: consenting to such a scope was a 500."""
    application, _ = okta
    response = consent(
        client,
        setup["people"]["admin"],
        application,
        setup["connection"],
        scope="scim\x00",
        state="q",
    )
    target, query = query_of(response)
    assert (target, query["error"], query["state"]) == (OKTA, "invalid_scope", "q")
    assert not AuthorizationCode.objects.exists()


def test_the_code_is_bound_to_its_application(client, setup, okta):
    application, secret = okta
    other, other_secret = register(name="Someone else")
    code = code_for(client, setup, application)
    response = exchange(client, other, other_secret, code)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    wrong_secret = exchange(client, application, other_secret, code)
    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")
    assert not AccessToken.objects.exists()
    # Neither attempt used the code up: its own application still can.
    assert exchange(client, application, secret, code).status_code == 200


def test_client_secret_post_works_too(client, setup, okta):
    application, secret = okta
    code = code_for(client, setup, application)
    response = client.post(
        TOKEN_URL,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": OKTA,
            "client_id": application.client_id,
            "client_secret": secret,
        },
        secure=True,
    )
    assert response.status_code == 200, response.content


def s256(verifier):
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_pkce_s256(client, setup, okta):
    application, secret = okta
    verifier = secrets.token_urlsafe(48)
    code = code_for(
        client, setup, application, code_challenge=s256(verifier), code_challenge_method="S256"
    )
    missing = exchange(client, application, secret, code)
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    wrong = exchange(client, application, secret, code, code_verifier=secrets.token_urlsafe(48))
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    right = exchange(client, application, secret, code, code_verifier=verifier)
    assert right.status_code == 200, right.content


def test_a_verifier_without_a_challenge_is_refused(client, setup, okta):
    application, secret = okta
    code = code_for(client, setup, application)
    response = exchange(client, application, secret, code, code_verifier=secrets.token_urlsafe(48))
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_refresh_rotates_the_refresh_token(client, setup, okta):
    application, secret = okta
    connection = setup["connection"]
    first = tokens(client, setup, okta)

    response = refresh(client, application, secret, first["refresh_token"])
    assert response.status_code == 200, response.content
    second = response.json()
    assert second["expires_in"] == 3600
    assert {second["access_token"], second["refresh_token"]}.isdisjoint(first.values())
    assert scim_status(client, connection, second["access_token"]) == 200

    reused = refresh(client, application, secret, first["refresh_token"])
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    # The old access token lives on until its own expiry (requests in flight finish)...
    assert scim_status(client, connection, first["access_token"]) == 200
    old = AccessToken.objects.get(refresh_digest=None)
    assert old.expires_at <= timezone.now() + timedelta(seconds=3600)
    # ... and the new refresh token rotates in turn.
    third = refresh(client, application, secret, second["refresh_token"])
    assert third.status_code == 200
    assert refresh(client, application, secret, second["refresh_token"]).status_code == 400
    # A refresh extends nothing but the chain: one authorisation, one credential.
    assert Credential.objects.filter(kind="authorization").count() == 1


def test_a_refresh_token_is_bound_to_its_application(client, setup, okta):
    first = tokens(client, setup, okta)
    other, other_secret = register(name="Someone else")
    response = refresh(client, other, other_secret, first["refresh_token"])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    assert refresh(client, *okta, first["refresh_token"]).status_code == 200


def test_an_expired_access_token_is_refused_and_refresh_still_works(client, setup, okta):
    first = tokens(client, setup, okta)
    AccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert scim_status(client, setup["connection"], first["access_token"]) == 401
    second = refresh(client, *okta, first["refresh_token"]).json()
    assert scim_status(client, setup["connection"], second["access_token"]) == 200


def test_revoking_the_authorisation_ends_access_and_refresh_tokens(client, setup, okta):
    first = tokens(client, setup, okta)
    second = refresh(client, *okta, first["refresh_token"]).json()
    revoke_credential(Credential.objects.get(kind="authorization"))
    for access in (first["access_token"], second["access_token"]):
        assert scim_status(client, setup["connection"], access) == 401
    response = refresh(client, *okta, second["refresh_token"])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


def test_deleting_the_connection_ends_access_and_refresh_tokens(client, setup, okta):
    first = tokens(client, setup, okta)
    delete_connection(setup["connection"])
    assert scim_status(client, setup["connection"], first["access_token"]) in (401, 404)
    response = refresh(client, *okta, first["refresh_token"])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    assert not AccessToken.objects.exists()


def test_a_code_of_a_deleted_connection_is_refused(client, setup, okta):
    application, secret = okta
    code = code_for(client, setup, application)
    delete_connection(setup["connection"])
    response = exchange(client, application, secret, code)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


def test_a_half_deleted_connection_can_neither_be_authorised_nor_exchange_a_code(
    client, setup, okta, monkeypatch
):
    """A code from before an interrupted deletion would otherwise create a live
    authorisation on a connection whose credentials the deletion revoked."""
    from scim_portal.provisioning import connections

    application, secret = okta
    code = code_for(client, setup, application)

    def interrupted(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(connections, "_delete_users", interrupted)
    with pytest.raises(RuntimeError):
        delete_connection(setup["connection"])
    monkeypatch.undo()

    response = exchange(client, application, secret, code)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    assert not Credential.objects.filter(revoked_at__isnull=True, kind="authorization").exists()
    assert not AccessToken.objects.exists()
    response = consent(client, setup["people"]["admin"], application, setup["connection"])
    assert response.status_code == 403 and not response.has_header("Location")


def test_a_revoked_application_can_neither_authorise_nor_exchange_nor_refresh(client, setup, okta):
    application, secret = okta
    first = tokens(client, setup, okta)
    code = code_for(client, setup, application)
    OAuthApplication.objects.filter(pk=application.pk).update(revoked_at=timezone.now())

    client.force_login(setup["people"]["admin"])
    page = client.get(authorize_url(application), secure=True)
    assert page.status_code == 400 and not page.has_header("Location")
    client.logout()
    for response in (
        exchange(client, application, secret, code),
        refresh(client, application, secret, first["refresh_token"]),
    ):
        assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert AccessToken.objects.count() == 1


def test_revoking_an_application_ends_the_tokens_its_authorisations_obtained(client, setup, okta):
    application, secret = okta
    first = tokens(client, setup, okta)
    assert scim_status(client, setup["connection"], first["access_token"]) == 200
    assert revoke_application(application, actor=Actor.for_user(setup["people"]["admin"])) == 1
    assert scim_status(client, setup["connection"], first["access_token"]) == 401
    response = refresh(client, application, secret, first["refresh_token"])
    assert response.json()["error"] == "invalid_client"
    revoked = ProvisioningEvent.objects.filter(type="credential.revoked").get()
    assert revoked.changes["kind"] == "authorization"
    assert revoke_application(application) == 0  # already revoked: nothing more to do


def test_a_code_exchanged_while_the_application_is_revoked_obtains_nothing(
    client, setup, okta, monkeypatch
):
    """The revocation commits after the exchange read its client, before it stored the
    authorisation (two requests at once on PostgreSQL): the exchange must not leave a
    live authorisation, nor a token, behind the revocation."""
    application, secret = okta
    code = code_for(client, setup, application)
    read_client = server_module.query_client

    def revoked_meanwhile(client_id):
        found = read_client(client_id)
        revoke_application(OAuthApplication.objects.get(pk=application.pk))
        return found

    monkeypatch.setattr(server_module, "query_client", revoked_meanwhile)
    response = exchange(client, application, secret, code)
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert not Credential.objects.filter(kind="authorization", revoked_at=None).exists()
    assert not AccessToken.objects.exists()


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("paused", ["client read", "code locked"])
def test_an_exchange_and_a_revocation_at_once_leave_nothing_live(
    client, setup, okta, monkeypatch, paused
):
    """Two connections on PostgreSQL: the exchange pauses after reading its client, or
    after locking its code, while the application is revoked; either way no
    authorisation or token outlives the revocation."""
    application, secret = okta
    code = code_for(client, setup, application)
    reached, resume = threading.Event(), threading.Event()

    def pausing(function, where):
        def wrapper(*args):
            found = function(*args)
            if where == paused:
                reached.set()
                resume.wait(10)
            return found

        return wrapper

    grant = grants_module.AuthorizationCodeGrant
    monkeypatch.setattr(
        grant, "query_authorization_code", pausing(grant.query_authorization_code, "code locked")
    )
    monkeypatch.setattr(
        server_module, "query_client", pausing(server_module.query_client, "client read")
    )
    answers = {}

    def in_thread(name, function):
        def run():
            try:
                answers[name] = function()
            finally:
                connections.close_all()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    exchanging = in_thread("exchange", lambda: exchange(Client(), application, secret, code))
    assert reached.wait(10)
    revoking = in_thread("revoked", lambda: revoke_application(application))
    revoking.join(1)  # it waits for the exchange's lock, or ends
    resume.set()
    exchanging.join(20)
    revoking.join(20)
    response = answers["exchange"]
    assert not Credential.objects.filter(kind="authorization", revoked_at=None).exists()
    if response.status_code == 200:  # done first: the revocation ended what it got
        assert answers["revoked"] == 1
        assert scim_status(client, setup["connection"], response.json()["access_token"]) == 401
    else:
        assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("person", ["member", "auditor", "other_admin"])
def test_a_person_without_the_create_permission_cannot_authorise(client, setup, okta, person):
    application, _ = okta
    user = setup["people"][person]
    client.force_login(user)
    page = client.get(authorize_url(application), secure=True)
    assert page.status_code == 200
    assert str(setup["connection"].pk) not in page.content.decode()
    if person != "other_admin":
        assert "You may not create provisioning in any account" in page.content.decode()
    response = consent(client, user, application, setup["connection"], state="s")
    assert response.status_code == 403
    assert not response.has_header("Location")
    assert not AuthorizationCode.objects.exists()


def test_an_admin_cannot_choose_a_connection_of_another_account(client, setup, okta):
    application, _ = okta
    response = consent(client, setup["people"]["admin"], application, setup["other_connection"])
    assert response.status_code == 403 and not response.has_header("Location")
    assert not AuthorizationCode.objects.exists()
    for garbage in ("", "not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = client.post(
            authorize_url(application), {"connection": garbage, "decision": "allow"}, secure=True
        )
        assert response.status_code == 403
    assert not AuthorizationCode.objects.exists()


def test_losing_the_permission_before_the_exchange_voids_the_code(client, setup, okta):
    application, secret = okta
    code = code_for(client, setup, application)
    admin = setup["people"]["admin"]
    remove_perm(permissions.perm_name(permissions.CREATE), admin, setup["account"])
    response = exchange(client, application, secret, code)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    assert not AccessToken.objects.exists()


def test_deny_goes_back_with_access_denied(client, setup, okta):
    application, _ = okta
    response = consent(
        client, setup["people"]["admin"], application, setup["connection"], "deny", state="st"
    )
    target, query = query_of(response)
    assert (target, query["error"], query["state"]) == (OKTA, "access_denied", "st")
    assert "code" not in query
    assert not AuthorizationCode.objects.exists()


def test_the_consent_form_is_csrf_protected(setup, okta):
    application, _ = okta
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(setup["people"]["admin"])
    url = authorize_url(application, state="s")
    forged = browser.post(
        url, {"connection": str(setup["connection"].pk), "decision": "allow"}, secure=True
    )
    assert forged.status_code == 403 and not forged.has_header("Location")
    assert not AuthorizationCode.objects.exists()

    page = browser.get(url, secure=True)
    token = page.cookies["csrftoken"].value
    genuine = browser.post(
        url,
        {"connection": str(setup["connection"].pk), "decision": "allow"},
        secure=True,
        HTTP_X_CSRFTOKEN=token,
        HTTP_REFERER="https://testserver/",
    )
    assert genuine.status_code == 302 and AuthorizationCode.objects.count() == 1


def test_the_consent_page_is_never_cached_nor_framed(client, setup, okta):
    application, _ = okta
    client.force_login(setup["people"]["admin"])
    for response in (
        client.get(authorize_url(application), secure=True),
        client.get(authorize_url(application, client_id="nope"), secure=True),
        consent(client, setup["people"]["admin"], application, setup["connection"]),
    ):
        cache_control = response["Cache-Control"]
        assert "no-store" in cache_control and "private" in cache_control, cache_control
        assert response["X-Frame-Options"] == "DENY"


def test_anonymous_people_log_in_first(client, okta):
    application, _ = okta
    url = authorize_url(application, state="s")
    response = client.get(url, secure=True)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/login/" and parse_qs(location.query)["next"] == [url]
    assert "no-store" in response["Cache-Control"]


def test_plain_http_is_refused_on_the_page(client, setup, okta):
    application, _ = okta
    client.force_login(setup["people"]["admin"])
    response = client.get(authorize_url(application))
    assert response.status_code == 400
    assert "SECURE_PROXY_SSL_HEADER" in response.content.decode()


# The connection hint: ``connection=<id>`` in the authorize URL's query.


def hinted(application, hint, **params):
    return f"{authorize_url(application, **params)}&{urlencode({'connection': hint})}"


def without_csrf_token(page):
    """A page with its CSRF token (masked anew on every response) left out."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', 'name="csrfmiddlewaretoken"', page)


def test_a_hint_chooses_a_connection_the_person_may_authorise(client, setup, okta):
    application, _ = okta
    admin = setup["people"]["admin"]
    staging, _ = create_connection(
        account=setup["account"], name="Okta staging", provider="okta", credential_kind=None
    )
    client.force_login(admin)
    page = client.get(hinted(application, staging.pk, state="s"), secure=True).content.decode()
    assert f'<option value="{staging.pk}" selected>' in page
    assert f'<option value="{setup["connection"].pk}">' in page
    assert len(re.findall(r"<option [^>]*selected", page)) == 1
    assert (
        f"names the connection <strong>Okta staging</strong> (Okta) of the account "
        f"<strong>{setup['account']}</strong>"
    ) in page

    response = client.post(
        hinted(application, staging.pk, state="s"),
        {"connection": str(staging.pk), "decision": "allow"},
        secure=True,
    )
    target, query = query_of(response)
    assert target == OKTA and set(query) == {"code", "state"}  # the hint stays here
    assert AuthorizationCode.objects.get().connection == staging


def test_the_chosen_connection_decides_not_the_hint(client, setup, okta):
    application, _ = okta
    staging, _ = create_connection(
        account=setup["account"], name="Okta staging", provider="okta", credential_kind=None
    )
    client.force_login(setup["people"]["admin"])
    response = client.post(
        hinted(application, staging.pk),
        {"connection": str(setup["connection"].pk), "decision": "allow"},
        secure=True,
    )
    assert response.status_code == 302
    assert AuthorizationCode.objects.get().connection == setup["connection"]
    denied = client.post(
        hinted(application, staging.pk, state="t"), {"decision": "deny"}, secure=True
    )
    _, query = query_of(denied)
    assert (query["error"], query["state"]) == ("access_denied", "t")
    assert "connection" not in query


@pytest.mark.parametrize("person", ["admin", "member"])
def test_a_hint_the_person_may_not_authorise_is_ignored_without_a_trace(
    client, setup, okta, person
):
    application, _ = okta
    client.force_login(setup["people"][person])
    plain = without_csrf_token(
        client.get(authorize_url(application, state="s"), secure=True).content.decode()
    )
    other = setup["other_connection"]
    for hint in (other.pk, uuid.uuid4(), "not-a-uuid", "", "1 OR 1=1"):
        response = client.get(hinted(application, hint, state="s"), secure=True)
        assert response.status_code == 200
        page = without_csrf_token(response.content.decode())
        assert page == plain, hint
        assert str(other.pk) not in page and "Theirs" not in page
        assert "selected" not in page
