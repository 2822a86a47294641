"""The token endpoint under attack and in trouble: every refusal an RFC 6749 section 5.2
answer in JSON, nothing written; brute force meets the rate limit; an absent database
is a 503; wrong methods and plain http are JSON too, never HTML."""

import base64
import time
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from scim_portal.models import AccessToken, Credential, RequestLog
from scim_portal.models.credentials import CredentialQuerySet
from scim_portal.provisioning import create_connection, issue_credential, revoke_credential
from tests.factories import OrganizationFactory
from tests.oauth.conftest import TOKEN_URL
from tests.scim_client import basic_auth as basic

pytestmark = pytest.mark.django_db

GRANT = {"grant_type": "client_credentials"}


def token_request(client, data=None, *, auth=None, secure=True, **extra):
    if auth is not None:
        extra["HTTP_AUTHORIZATION"] = auth
    return client.post(TOKEN_URL, data if data is not None else GRANT, secure=secure, **extra)


def assert_oauth_error(response, status, error):
    """An RFC 6749 section 5.2 answer: JSON ``error`` (+ description), never cached."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["error"] == error, body
    assert body.get("error_description")
    assert set(body) <= {"error", "error_description", "error_uri"}
    if status == 401:  # the client used HTTP Basic: the challenge names it
        assert response["WWW-Authenticate"].startswith("Basic ")
    return body


def post_secret(connection, secret, client_id=None):
    return {
        **GRANT,
        "client_id": client_id or connection.oauth_client_id,
        "client_secret": secret,
    }


@pytest.fixture
def other_client(db):
    """Another account's connection with its own client secret."""
    return create_connection(
        account=OrganizationFactory(),
        name="Theirs",
        provider="entra",
        credential_kind="client_secret",
    )


def test_a_good_secret_gets_a_token_in_both_methods(client, secret_client):
    connection, issued = secret_client
    by_basic = token_request(client, auth=basic(connection.oauth_client_id, issued.raw))
    by_post = token_request(client, post_secret(connection, issued.raw))
    assert by_basic.status_code == by_post.status_code == 200
    assert AccessToken.objects.count() == 2


def refusals(secret_client, other_client):
    """(name, request data, Authorization header, expected status) of each attack."""
    connection, issued = secret_client
    other, theirs = other_client
    bearer = issue_credential(connection, "bearer").raw
    client_id = connection.oauth_client_id
    wrong = issued.raw[:-1] + ("A" if issued.raw[-1] != "A" else "B")
    return {
        "wrong secret, Basic": (GRANT, basic(client_id, wrong), 401),
        "wrong secret, post": (post_secret(connection, wrong), None, 400),
        "empty secret, post": (post_secret(connection, ""), None, 400),
        "no client authentication": (GRANT, None, 400),
        "bearer token as client secret, Basic": (GRANT, basic(client_id, bearer), 401),
        "bearer token as client secret, post": (post_secret(connection, bearer), None, 400),
        "other connection's client id with this secret, Basic": (
            GRANT,
            basic(other.oauth_client_id, issued.raw),
            401,
        ),
        "other connection's client id with this secret, post": (
            post_secret(connection, issued.raw, other.oauth_client_id),
            None,
            400,
        ),
        "this client id with the other connection's secret": (
            GRANT,
            basic(client_id, theirs.raw),
            401,
        ),
        "unknown client id, Basic": (GRANT, basic("scimc_nobody", issued.raw), 401),
        "unknown client id, post": (post_secret(connection, issued.raw, "scimc_nobody"), None, 400),
        "over-long secret": (post_secret(connection, issued.raw * 10), None, 400),
    }


ATTACKS = [
    "wrong secret, Basic",
    "wrong secret, post",
    "empty secret, post",
    "no client authentication",
    "bearer token as client secret, Basic",
    "bearer token as client secret, post",
    "other connection's client id with this secret, Basic",
    "other connection's client id with this secret, post",
    "this client id with the other connection's secret",
    "unknown client id, Basic",
    "unknown client id, post",
    "over-long secret",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_bad_client_authentication_is_invalid_client(client, secret_client, other_client, attack):
    data, auth, status = refusals(secret_client, other_client)[attack]
    response = token_request(client, data, auth=auth)
    assert_oauth_error(response, status, "invalid_client")
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize("method", ["basic", "post"])
@pytest.mark.parametrize("state", ["expired", "revoked"])
def test_an_expired_or_revoked_secret_gets_no_token(client, secret_client, method, state):
    connection, issued = secret_client
    if state == "revoked":
        revoke_credential(issued.credential)
    else:
        Credential.objects.filter(pk=issued.credential.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    if method == "basic":
        response = token_request(client, auth=basic(connection.oauth_client_id, issued.raw))
    else:
        response = token_request(client, post_secret(connection, issued.raw))
    assert_oauth_error(response, 401 if method == "basic" else 400, "invalid_client")
    assert not AccessToken.objects.exists()
    # A second, usable secret of the same client still works (rotation with overlap).
    fresh = issue_credential(connection, "client_secret")
    assert token_request(client, post_secret(connection, fresh.raw)).status_code == 200


def test_a_secret_expiring_stops_new_tokens_then(client, secret_client, monkeypatch):
    connection, _ = secret_client
    soon = issue_credential(
        connection, "client_secret", expires_at=timezone.now() + timedelta(hours=1)
    )
    assert token_request(client, post_secret(connection, soon.raw)).status_code == 200
    later = timezone.now() + timedelta(hours=1, seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    response = token_request(client, post_secret(connection, soon.raw))
    assert_oauth_error(response, 400, "invalid_client")
    assert AccessToken.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"grant_type": "password", "username": "a", "password": "b"}, "unsupported_grant_type"),
        ({"grant_type": "urn:ietf:params:oauth:grant-type:device_code"}, "unsupported_grant_type"),
        ({}, "invalid_request"),
        ({"grant_type": ""}, "invalid_request"),
        ({"grant_type": ["client_credentials", "client_credentials"]}, "invalid_request"),
        ({"grant_type": "authorization_code", "code": "scimac_x"}, "unauthorized_client"),
        ({"grant_type": "refresh_token", "refresh_token": "scimrt_x"}, "unauthorized_client"),
    ],
    ids=["password", "device", "none", "empty", "repeated", "code", "refresh"],
)
def test_grant_types_a_connection_may_not_use(client, secret_client, data, error):
    connection, issued = secret_client
    response = token_request(client, data, auth=basic(connection.oauth_client_id, issued.raw))
    assert_oauth_error(response, 400, error)
    assert not AccessToken.objects.exists()


def test_two_ways_of_client_authentication_at_once_is_invalid_request(client, secret_client):
    """RFC 6749 section 2.3: a client uses one authentication method per request."""
    connection, issued = secret_client
    response = token_request(
        client,
        post_secret(connection, issued.raw),
        auth=basic(connection.oauth_client_id, issued.raw),
    )
    assert_oauth_error(response, 400, "invalid_request")
    assert not AccessToken.objects.exists()


def test_brute_force_per_address_meets_the_rate_limit(client, secret_client, settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "TOKEN_RATE_LIMIT_PER_MINUTE": 5}
    connection, issued = secret_client
    for attempt in range(5):  # five guesses, each at another client id: all answered
        guess = post_secret(connection, f"scimcs_guess{attempt}", f"scimc_guess{attempt}")
        assert token_request(client, guess).status_code == 400
    # The sixth request is refused before anything is checked, even with the right secret.
    response = token_request(client, post_secret(connection, issued.raw))
    body = assert_oauth_error(response, 429, "slow_down")
    assert "5 token requests a minute" in body["error_description"]
    assert 1 <= int(response["Retry-After"]) <= 61
    assert not AccessToken.objects.exists()
    # Another address is not held back by this one.
    other = token_request(client, post_secret(connection, issued.raw), REMOTE_ADDR="192.0.2.9")
    assert other.status_code == 200


def test_brute_force_per_client_id_meets_the_rate_limit(client, secret_client, settings):
    """Guesses at one client id from ever new addresses are counted together."""
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "TOKEN_RATE_LIMIT_PER_MINUTE": 5}
    connection, issued = secret_client
    for attempt in range(5):
        response = token_request(
            client,
            auth=basic(connection.oauth_client_id, f"scimcs_guess{attempt}"),
            REMOTE_ADDR=f"198.51.100.{attempt}",
        )
        assert response.status_code == 401
    response = token_request(
        client, auth=basic(connection.oauth_client_id, issued.raw), REMOTE_ADDR="203.0.113.1"
    )
    assert_oauth_error(response, 429, "slow_down")
    assert response["Retry-After"].isdigit()
    assert not AccessToken.objects.exists()
    limited = RequestLog.objects.filter(connection=connection, status=429)
    assert limited.count() == 1  # the connection's admins see the refused request


def test_database_down_is_a_503_in_json(client, secret_client, monkeypatch):
    connection, issued = secret_client

    def down(*args, **kwargs):
        raise OperationalError("connection to server at 10.0.0.5 failed: Connection refused")

    monkeypatch.setattr(CredentialQuerySet, "by_secret", down)
    response = token_request(client, auth=basic(connection.oauth_client_id, issued.raw))
    body = assert_oauth_error(response, 503, "temporarily_unavailable")
    assert "10.0.0.5" not in body["error_description"]
    assert response["Retry-After"].isdigit()
    monkeypatch.undo()
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_other_methods_are_a_json_405(client, db, method):
    response = getattr(client, method)(TOKEN_URL, secure=True)
    assert_oauth_error(response, 405, "invalid_request")
    assert response["Allow"] == "POST, OPTIONS"


def test_plain_http_from_another_host_is_a_json_400(client, secret_client):
    connection, issued = secret_client
    response = token_request(
        client,
        post_secret(connection, issued.raw),
        secure=False,
        HTTP_HOST="saas.example.test",
    )
    body = assert_oauth_error(response, 400, "invalid_request")
    assert "https" in body["error_description"]
    assert not AccessToken.objects.exists()


def test_refusals_are_logged_for_the_connection_without_secrets(client, secret_client):
    connection, issued = secret_client
    started = time.time()
    token_request(client, auth=basic(connection.oauth_client_id, issued.raw + "x"))
    token_request(client, post_secret(connection, "scimcs_wrong"))
    rows = list(RequestLog.objects.filter(connection=connection).order_by("created_at", "id"))
    assert [(row.status, row.path) for row in rows] == [(401, TOKEN_URL), (400, TOKEN_URL)]
    assert all("invalid_client" in row.detail for row in rows)
    assert issued.raw not in str([vars(row) for row in rows])
    assert time.time() - started < 5


def _raw_basic(value: bytes) -> str:
    return "Basic " + base64.b64encode(value).decode()


@pytest.mark.parametrize(
    ("body", "content_type", "authorization", "status", "error"),
    [
        (
            "&".join(f"f{i}=1" for i in range(1500)) + "&grant_type=client_credentials",
            "application/x-www-form-urlencoded",
            None,
            400,
            "invalid_request",
        ),
        (
            "grant_type=client_credentials&x=" + "a" * 3_000_000,
            "application/x-www-form-urlencoded",
            None,
            413,
            "invalid_request",
        ),
        (b"--zz\r\ngarbage", "multipart/form-data; boundary=zz", None, 400, "invalid_request"),
        (b"grant_type=client_credentials", "multipart/form-data", None, 400, "invalid_request"),
        ('{"grant_type": "client_credentials"}', "application/json", None, 400, "invalid_request"),
        (
            "grant_type=client_credentials",
            None,
            _raw_basic(b"\xff\xfe:\xff"),
            401,
            "invalid_client",
        ),
        ("grant_type=client_credentials", None, "Basic !!!", 401, "invalid_client"),
        ("grant_type=client_credentials", None, _raw_basic(b"no-colon"), 401, "invalid_client"),
        (
            "grant_type=client_credentials&client_id=%FF%FE&client_secret=%FF",
            None,
            None,
            400,
            "invalid_client",
        ),
    ],
    ids=[
        "too-many-fields",
        "too-large",
        "broken-multipart",
        "multipart-without-boundary",
        "json-body",
        "basic-not-utf8",
        "basic-not-base64",
        "basic-without-colon",
        "form-not-utf8",
    ],
)
def test_malformed_requests_are_answered_in_json(
    client, secret_client, body, content_type, authorization, status, error
):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.post(
        TOKEN_URL,
        body,
        content_type=content_type or "application/x-www-form-urlencoded",
        secure=True,
        **extra,
    )
    assert_oauth_error(response, status, error)
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize(
    ("data", "auth", "status", "error"),
    [
        ({"scope": "scim " * 100}, "basic", 400, "invalid_scope"),
        ({"client_id": "scimc_\x00", "client_secret": "scimcs_\x00"}, None, 400, "invalid_request"),
        ({"scope": "scim\x00"}, "basic", 400, "invalid_request"),
        ({}, "nul-basic", 401, "invalid_client"),
    ],
    ids=["long-scope", "nul-in-client-id", "nul-in-scope", "nul-in-basic-username"],
)
def test_values_no_database_column_holds_are_refused(
    client, secret_client, data, auth, status, error
):
    """A scope longer than is stored and a NUL character (PostgreSQL's text refuses it)
    are the client's mistake, not a database outage."""
    connection, issued = secret_client
    header = {
        None: None,
        "basic": basic(connection.oauth_client_id, issued.raw),
        "nul-basic": basic("scimc_\x00", issued.raw),
    }[auth]
    response = token_request(client, {**GRANT, **data}, auth=header)
    assert_oauth_error(response, status, error)
    assert not AccessToken.objects.exists()


def test_a_refused_request_is_logged_for_the_client_it_names_only(
    client, secret_client, other_client, settings
):
    """The request log row of a throttled request belongs to the client id it sent, never
    to the connection of the request answered before it in the same thread."""
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "TOKEN_RATE_LIMIT_PER_MINUTE": 1}
    connection, issued = secret_client
    other, theirs = other_client
    assert token_request(client, post_secret(connection, issued.raw)).status_code == 200
    throttled = token_request(client, post_secret(other, theirs.raw))
    assert throttled.status_code == 429
    assert list(
        RequestLog.objects.filter(connection=connection).values_list("status", flat=True)
    ) == [200]
    row = RequestLog.objects.get(connection=other)
    assert (row.status, row.credential_kind) == (429, "")
