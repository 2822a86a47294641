"""Access tokens at the SCIM endpoints: what opens a connection and what does not, how
revoking, deleting and expiring end them, and that no secret reaches a log or a table."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from django.views.debug import SafeExceptionReporterFilter

from scim_portal.models import AccessToken, Credential, DirectoryUser, RequestLog
from scim_portal.provisioning import (
    create_connection,
    delete_connection,
    issue_credential,
    revoke_credential,
)
from tests.factories import OrganizationFactory
from tests.oauth.conftest import TOKEN_URL
from tests.oauth.issuer import ASSERTION_TYPE
from tests.scim_client import basic_auth as basic
from tests.test_tokens import all_stored_text

pytestmark = pytest.mark.django_db

NEW_USER = {"userName": "intruder@example.com"}


def obtain(client, connection, secret):
    response = client.post(
        TOKEN_URL,
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(connection.oauth_client_id, secret),
        secure=True,
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def scim(client, connection, authorization, method="get", body=None):
    url = f"/scim/v2/{connection.pk}/Users"
    if method == "post":
        return client.post(
            url, body, content_type="application/scim+json", HTTP_AUTHORIZATION=authorization
        )
    return client.get(url, HTTP_AUTHORIZATION=authorization)


def assert_shut_out(client, connection, authorization):
    """A SCIM 401 for reading and for writing, and nothing written."""
    users = DirectoryUser.objects.count()
    for method in ("get", "post"):
        response = scim(client, connection, authorization, method, NEW_USER)
        assert response.status_code == 401, (method, response.content)
        assert response["Content-Type"] == "application/scim+json"
        assert response.json()["status"] == "401"
    assert DirectoryUser.objects.count() == users


def test_an_access_token_opens_its_connection_until_it_expires(client, secret_client, monkeypatch):
    connection, issued = secret_client
    access = obtain(client, connection, issued.raw)
    assert scim(client, connection, f"Bearer {access}", "post", NEW_USER).status_code == 201
    lifetime = connection.access_token_lifetime
    later = timezone.now() + timedelta(seconds=lifetime + 1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert_shut_out(client, connection, f"Bearer {access}")
    # The secret itself is still good: a new token works at that later time.
    fresh = obtain(client, connection, issued.raw)
    assert scim(client, connection, f"Bearer {fresh}").status_code == 200


def test_a_short_lifetime_is_what_the_token_endpoint_says_and_does(
    client, secret_client, monkeypatch
):
    connection, issued = secret_client
    connection.access_token_lifetime = 300
    connection.save(update_fields=["access_token_lifetime"])
    response = client.post(
        TOKEN_URL,
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(connection.oauth_client_id, issued.raw),
        secure=True,
    )
    assert response.json()["expires_in"] == 300
    access = response.json()["access_token"]
    soon = timezone.now() + timedelta(seconds=299)
    monkeypatch.setattr(timezone, "now", lambda: soon)
    assert scim(client, connection, f"Bearer {access}").status_code == 200
    monkeypatch.setattr(timezone, "now", lambda: soon + timedelta(seconds=2))
    assert scim(client, connection, f"Bearer {access}").status_code == 401


def test_what_does_not_open_a_connection(client, secret_client):
    connection, issued = secret_client
    access = obtain(client, connection, issued.raw)
    other, other_secret = create_connection(
        account=OrganizationFactory(), name="B", provider="entra", credential_kind="client_secret"
    )
    other_access = obtain(client, other, other_secret.raw)
    own_basic = issue_credential(connection, "basic")
    other_basic = issue_credential(other, "basic")
    wrong_password = own_basic.raw[:-1] + ("A" if own_basic.raw[-1] != "A" else "B")
    attempts = {
        "the client secret as a bearer token": f"Bearer {issued.raw}",
        "another connection's access token": f"Bearer {other_access}",
        "an access token with one character changed": f"Bearer {access[:-1]}"
        + ("A" if access[-1] != "A" else "B"),
        "Basic with a wrong password": basic(own_basic.credential.username, wrong_password),
        "Basic with another connection's username": basic(
            other_basic.credential.username, own_basic.raw
        ),
        "Basic with another connection's username and password": basic(
            other_basic.credential.username, other_basic.raw
        ),
        "Basic with the client id and secret": basic(connection.oauth_client_id, issued.raw),
        "the access token as a Basic password": basic(own_basic.credential.username, access),
    }
    for name, authorization in attempts.items():
        users = DirectoryUser.objects.count()
        response = scim(client, connection, authorization, "post", NEW_USER)
        assert response.status_code == 401, name
        assert DirectoryUser.objects.count() == users, name
    assert scim(client, connection, f"Bearer {access}").status_code == 200
    assert scim(client, other, f"Bearer {other_access}").status_code == 200


def test_revoking_a_secret_ends_its_access_tokens_at_once(client, secret_client):
    connection, issued = secret_client
    second = issue_credential(connection, "client_secret", label="rotation")
    first_tokens = [obtain(client, connection, issued.raw) for _ in range(2)]
    kept = obtain(client, connection, second.raw)
    revoke_credential(issued.credential)
    for access in first_tokens:
        assert_shut_out(client, connection, f"Bearer {access}")
    assert AccessToken.objects.filter(revoked_at__isnull=False).count() == 2
    # The other secret's token is untouched: rotation with overlap.
    assert scim(client, connection, f"Bearer {kept}").status_code == 200


def test_expiry_of_a_secret_stops_new_tokens(client, secret_client):
    connection, issued = secret_client
    obtain(client, connection, issued.raw)
    Credential.objects.filter(pk=issued.credential.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = client.post(
        TOKEN_URL,
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(connection.oauth_client_id, issued.raw),
        secure=True,
    )
    assert response.status_code == 401
    assert AccessToken.objects.count() == 1


def test_deleting_the_connection_ends_its_access_tokens(client, secret_client):
    connection, issued = secret_client
    access = obtain(client, connection, issued.raw)
    delete_connection(connection)
    assert not AccessToken.objects.exists()
    response = scim(client, connection, f"Bearer {access}")
    assert response.status_code in (401, 404)
    assert response["Content-Type"] == "application/scim+json"


def test_no_secret_is_logged_or_stored(client, secret_client, federated_client, issuer, caplog):
    """Every request-log row, every stored value and every Python log record of token
    requests that succeed and fail, and of SCIM requests with what they got."""
    connection, issued = secret_client
    federated_connection, federated = federated_client
    assertion = issuer.assertion(federated.subject)
    bad_assertion = issuer.assertion(federated.subject, aud="api://elsewhere")
    secrets = [issued.raw, issued.raw[len(issued.credential.prefix) :], assertion, bad_assertion]
    caplog.set_level(logging.DEBUG)
    access = obtain(client, connection, issued.raw)
    by_post = client.post(
        TOKEN_URL,
        {
            "grant_type": "client_credentials",
            "client_id": connection.oauth_client_id,
            "client_secret": issued.raw,
        },
        secure=True,
    ).json()["access_token"]
    federated_access = client.post(
        TOKEN_URL,
        {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
        secure=True,
    ).json()["access_token"]
    failures = [
        client.post(
            TOKEN_URL,
            {"grant_type": "client_credentials"},
            HTTP_AUTHORIZATION=basic(connection.oauth_client_id, issued.raw + "x"),
            secure=True,
        ),
        client.post(
            TOKEN_URL,
            {
                "grant_type": "client_credentials",
                "client_id": connection.oauth_client_id,
                "client_secret": issued.raw[:-1],
            },
            secure=True,
        ),
        client.post(
            TOKEN_URL,
            {
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": bad_assertion,
                "client_id": federated_connection.oauth_client_id,
            },
            secure=True,
        ),
        client.post(
            TOKEN_URL,
            {
                "grant_type": "password",
                "client_id": connection.oauth_client_id,
                "client_secret": issued.raw,
            },
            secure=True,
        ),
    ]
    assert [response.status_code for response in failures] == [401, 400, 400, 400]
    for token, target in ((access, connection), (federated_access, federated_connection)):
        assert scim(client, target, f"Bearer {token}", "post", NEW_USER).status_code == 201
    assert scim(client, connection, f"Bearer {access}x").status_code == 401
    secrets += [access, by_post, federated_access, issued.raw + "x", issued.raw[:-1]]
    secrets += [token[len("scimat_") :] for token in (access, by_post, federated_access)]

    token_rows = RequestLog.objects.filter(path=TOKEN_URL)
    assert token_rows.filter(status=200).count() == 3
    assert token_rows.filter(status__gte=400).count() == 4
    stored = all_stored_text()
    logged = "\n".join(
        f"{record.getMessage()} {record.__dict__!r} {record.exc_text or ''}"
        for record in caplog.records
    )
    assert any(record.name == "django.request" for record in caplog.records)
    for secret in secrets:
        assert secret not in stored
        assert secret not in logged

    # What Django's error reports (mail to ADMINS, Sentry) would show of a token request.
    reports = SafeExceptionReporterFilter()
    for record in caplog.records:
        request = getattr(record, "request", None)
        if request is not None and request.path == TOKEN_URL:
            shown = repr(reports.get_post_parameters(request)) + repr(
                reports.get_safe_request_meta(request)
            )
            for secret in secrets:
                assert secret not in shown
