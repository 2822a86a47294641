"""The token endpoint's main paths through Django's test client (the real OAuth client
library and the negative cases: test_token_endpoint.py)."""

import pytest

from scim_portal.models import AccessToken, RequestLog
from scim_portal.provisioning import create_connection, issue_credential, revoke_credential
from tests.factories import OrganizationFactory
from tests.scim_client import basic_auth as basic

pytestmark = pytest.mark.django_db

TOKEN_URL = "/scim/oauth/token"


@pytest.fixture
def entra():
    connection, _ = create_connection(account=OrganizationFactory(), name="Entra", provider="entra")
    issued = issue_credential(connection, "client_secret", label="Entra")
    connection.refresh_from_db()
    return connection, issued


def test_client_credentials_basic_then_scim(client, entra):
    connection, issued = entra
    response = client.post(
        TOKEN_URL,
        {"grant_type": "client_credentials", "scope": "scim"},
        HTTP_AUTHORIZATION=basic(connection.oauth_client_id, issued.raw),
        secure=True,
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert "no-store" in response["Cache-Control"]
    users = client.get(
        f"/scim/v2/{connection.pk}/Users",
        HTTP_AUTHORIZATION=f"Bearer {body['access_token']}",
    )
    assert users.status_code == 200
    log = RequestLog.objects.filter(connection=connection).order_by("created_at", "id")
    assert [(row.path, row.status, row.credential_kind) for row in log] == [
        (TOKEN_URL, 200, "client_secret"),
        (f"/scim/v2/{connection.pk}/Users", 200, "client_secret"),
    ]
    assert issued.raw not in str(list(log.values()))
    assert body["access_token"] not in str(list(log.values()))


def test_client_secret_post_and_revocation_ends_access_tokens(client, entra):
    connection, issued = entra
    response = client.post(
        TOKEN_URL,
        {
            "grant_type": "client_credentials",
            "client_id": connection.oauth_client_id,
            "client_secret": issued.raw,
        },
        secure=True,
    )
    assert response.status_code == 200, response.content
    access = response.json()["access_token"]
    revoke_credential(issued.credential)
    users = client.get(f"/scim/v2/{connection.pk}/Users", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert users.status_code == 401
    assert AccessToken.objects.get().revoked_at is not None


def test_wrong_secret_is_invalid_client(client, entra):
    connection, issued = entra
    response = client.post(
        TOKEN_URL,
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(connection.oauth_client_id, issued.raw + "x"),
        secure=True,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert not AccessToken.objects.exists()
    row = RequestLog.objects.get(connection=connection)
    assert row.status == 401 and "invalid_client" in row.detail


def test_basic_credentials_open_scim(client):
    connection, _ = create_connection(account=OrganizationFactory(), name="Okta", provider="okta")
    issued = issue_credential(connection, "basic")
    ok = client.get(
        f"/scim/v2/{connection.pk}/Users",
        HTTP_AUTHORIZATION=basic(issued.credential.username, issued.raw),
    )
    assert ok.status_code == 200
    wrong = client.get(
        f"/scim/v2/{connection.pk}/Users",
        HTTP_AUTHORIZATION=basic(
            issued.credential.username, issued.raw[:-1] + ("A" if issued.raw[-1] != "A" else "B")
        ),
    )
    assert wrong.status_code == 401
    assert wrong["WWW-Authenticate"] == 'Bearer realm="SCIM", Basic realm="SCIM"'
    row = RequestLog.objects.filter(connection=connection, status=200).get()
    assert (row.credential_kind, row.token_prefix) == ("basic", issued.credential.username)
    assert issued.raw not in str(list(RequestLog.objects.values()))


def test_obtaining_a_token_is_a_use_of_the_secret(client, entra, django_assert_num_queries):
    connection, issued = entra
    assert issued.credential.last_used_at is None and connection.last_request_at is None

    def token_request():
        response = client.post(
            TOKEN_URL,
            {"grant_type": "client_credentials"},
            HTTP_AUTHORIZATION=basic(connection.oauth_client_id, issued.raw),
            secure=True,
        )
        assert response.status_code == 200

    # savepoint, client, secret, two timestamps, access token, release, request log
    with django_assert_num_queries(8):
        token_request()
    issued.credential.refresh_from_db()
    connection.refresh_from_db()
    assert issued.credential.last_used_at is not None
    assert connection.last_request_at is not None
    with django_assert_num_queries(6):  # within TOKEN_LAST_USED_RESOLUTION: no timestamp write
        token_request()
