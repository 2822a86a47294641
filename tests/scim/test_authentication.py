from datetime import timedelta

import pytest
from django.utils import timezone

from scim_portal.models import Connection, Credential
from scim_portal.provisioning import create_connection, issue_credential, revoke_credential
from tests.scim_client import basic_auth

pytestmark = pytest.mark.django_db

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def assert_scim_error(response, status):
    assert response.status_code == status
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    assert body["detail"]
    return body


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer scimp_wrong", "Bearer a b", "Token x"],
)
def test_missing_or_bad_token_is_401_with_challenge(client, issued_connection, header):
    connection, _issued = issued_connection
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = client.get(f"/scim/v2/{connection.id}/Users", **extra)
    assert_scim_error(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="SCIM"'  # from the authentication class


def test_token_of_another_connection_is_rejected(client, organization):
    first, _ = create_connection(account=organization, name="A", provider="okta")
    _second, other_token = create_connection(account=organization, name="B", provider="okta")
    response = client.get(
        f"/scim/v2/{first.id}/Users", HTTP_AUTHORIZATION=f"Bearer {other_token.raw}"
    )
    assert_scim_error(response, 401)


def test_revoked_token_is_rejected(client, issued_connection):
    connection, issued = issued_connection
    revoke_credential(issued.token)
    response = client.get(
        f"/scim/v2/{connection.id}/Users", HTTP_AUTHORIZATION=f"Bearer {issued.raw}"
    )
    assert_scim_error(response, 401)


def test_valid_token_on_an_unknown_endpoint_is_a_scim_404(client, issued_connection):
    connection, issued = issued_connection
    response = client.get(
        f"/scim/v2/{connection.id}/NoSuchThing", HTTP_AUTHORIZATION=f"Bearer {issued.raw}"
    )
    assert_scim_error(response, 404)


@pytest.mark.parametrize("path", ["/scim/v2/not-a-uuid/Users", "/scim/v2/", "/scim/v2"])
def test_malformed_connection_path_is_a_scim_404(client, db, path):
    assert_scim_error(client.get(path), 404)


def test_last_used_is_recorded_at_most_once_per_resolution(
    client, issued_connection, django_assert_num_queries
):
    connection, issued = issued_connection
    url = f"/scim/v2/{connection.id}/Users"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {issued.raw}"}
    # lookup, two timestamps, the (empty, so uncounted) page, request log
    with django_assert_num_queries(5):
        client.get(url, **auth)
    token = Credential.objects.get(pk=issued.token.pk)
    assert token.last_used_at is not None
    assert Connection.objects.get(pk=connection.pk).last_request_at is not None
    with django_assert_num_queries(3):  # lookup, page, request log: no timestamp write
        client.get(url, **auth)
    assert Credential.objects.get(pk=issued.token.pk).last_used_at == token.last_used_at
    assert token.last_used_at <= timezone.now()


def basic_header(issued):
    return basic_auth(issued.credential.username, issued.raw)


@pytest.mark.parametrize(
    ("kinds", "challenge"),
    [
        (["bearer"], 'Bearer realm="SCIM"'),
        (["basic"], 'Basic realm="SCIM"'),
        (["client_secret"], 'Bearer realm="SCIM"'),
        (["basic", "client_secret"], 'Bearer realm="SCIM", Basic realm="SCIM"'),
        (["bearer", "basic"], 'Bearer realm="SCIM", Basic realm="SCIM"'),
    ],
)
def test_the_challenge_lists_exactly_what_the_connection_accepts(
    client, organization, kinds, challenge
):
    connection, _ = create_connection(
        account=organization, name="C", provider="okta", credential_kind=kinds[0]
    )
    for kind in kinds[1:]:
        issue_credential(connection, kind)
    for header in (
        {},
        {"HTTP_AUTHORIZATION": "Basic bm86bm8="},
        {"HTTP_AUTHORIZATION": "Bearer x"},
    ):
        response = client.get(f"/scim/v2/{connection.id}/Users", **header)
        assert_scim_error(response, 401)
        assert response["WWW-Authenticate"] == challenge


def test_a_revoked_or_expired_kind_leaves_the_challenge(client, organization):
    connection, bearer = create_connection(account=organization, name="C", provider="okta")
    basic = issue_credential(connection, "basic")
    url = f"/scim/v2/{connection.id}/Users"
    assert client.get(url, HTTP_AUTHORIZATION=basic_header(basic)).status_code == 200
    assert client.get(url)["WWW-Authenticate"] == 'Bearer realm="SCIM", Basic realm="SCIM"'
    revoke_credential(basic.credential)
    assert client.get(url, HTTP_AUTHORIZATION=basic_header(basic)).status_code == 401
    assert client.get(url)["WWW-Authenticate"] == 'Bearer realm="SCIM"'
    Credential.objects.filter(pk=bearer.credential.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    soon_basic = issue_credential(connection, "basic")
    assert client.get(url)["WWW-Authenticate"] == 'Basic realm="SCIM"'
    assert client.get(url, HTTP_AUTHORIZATION=basic_header(soon_basic)).status_code == 200
