"""RFC 7523 client assertions under attack, and the fetch of the issuer's keys guarded:
every forged, stale or misdirected assertion is ``invalid_client`` with nothing written;
keys are never fetched from private addresses unless allowed, and a fetch is bounded
in time and size."""

import socket
import time
import uuid

import pytest
from django.core.cache import cache

from scim_portal.models import AccessToken, RequestLog
from scim_portal.provisioning import create_connection
from tests.factories import OrganizationFactory
from tests.oauth.conftest import TOKEN_URL, federate
from tests.oauth.issuer import (
    ASSERTION_TYPE,
    AUDIENCE,
    DripServer,
    SigningKey,
    SilentServer,
    hs256,
    unsigned,
)

pytestmark = pytest.mark.django_db


def exchange(client, assertion, client_id=None, **form):
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        **form,
    }
    if client_id:
        data["client_id"] = client_id
    return client.post(TOKEN_URL, data, secure=True)


def assert_refused(response, *words):
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == "invalid_client", body
    for word in words:
        assert word in body["error_description"], body
    assert not AccessToken.objects.exists()
    return body


def test_a_good_assertion_gets_a_token(client, federated_client, issuer):
    _connection, credential = federated_client
    response = exchange(client, issuer.assertion(credential.subject))
    assert response.status_code == 200, response.content
    assert AccessToken.objects.get().credential == credential


def now():
    return int(time.time())


@pytest.mark.parametrize(
    ("claims", "words"),
    [
        ({"iss": "https://login.microsoftonline.com/another-tenant/v2.0"}, ["No single"]),
        ({"aud": "api://SomeoneElse"}, ["No single"]),
        ({"aud": 42}, ["No single"]),
        ({"sub": "00000000-0000-0000-0000-000000000000"}, ["No single"]),
        ({"exp": now() - 600, "iat": now() - 900, "nbf": now() - 900}, ["expired"]),
        ({"nbf": now() + 600}, ["not yet valid"]),
        ({"iat": now(), "exp": now() + 3 * 24 * 3600}, ["longer than a day"]),
        ({"exp": 10**400}, ["longer than a day"]),
        ({"exp": None}, ["exp"]),
        ({"jti": None}, ["jti"]),
        ({"jti": 12345}, ["JWT ID"]),
    ],
    ids=[
        "wrong-issuer",
        "wrong-audience",
        "audience-not-a-string",
        "wrong-subject",
        "expired",
        "not-yet-valid",
        "lives-three-days",
        "expiry-beyond-any-float",
        "no-expiry",
        "no-jti",
        "jti-not-a-string",
    ],
)
def test_assertions_with_wrong_claims_are_refused(client, federated_client, issuer, claims, words):
    _connection, credential = federated_client
    assert_refused(exchange(client, issuer.assertion(credential.subject, **claims)), *words)


def test_the_client_id_as_subject_is_refused(client, federated_client, issuer):
    """Entra's ``sub`` is the object id of the workload's identity, never a client id."""
    connection, _credential = federated_client
    assertion = issuer.assertion(connection.oauth_client_id)
    assert_refused(exchange(client, assertion, connection.oauth_client_id), "No single")


def test_a_replayed_assertion_is_refused(client, federated_client, issuer):
    _connection, credential = federated_client
    assertion = issuer.assertion(credential.subject)
    assert exchange(client, assertion).status_code == 200
    response = exchange(client, assertion)
    assert response.status_code == 400
    assert "used before" in response.json()["error_description"]
    assert AccessToken.objects.count() == 1
    # Entra's "uti" is its unique id as well.
    with_uti = issuer.assertion(credential.subject, jti=None, uti="abc-123")
    assert exchange(client, with_uti).status_code == 200
    assert exchange(client, with_uti).status_code == 400


def test_an_assertion_for_another_connections_client_id_is_refused(
    client, federated_client, issuer
):
    connection, credential = federated_client
    other, _ = create_connection(
        account=OrganizationFactory(), name="B", provider="entra", credential_kind="client_secret"
    )
    response = exchange(client, issuer.assertion(credential.subject), other.oauth_client_id)
    assert_refused(response, "No single")
    assert exchange(client, issuer.assertion(credential.subject), connection.oauth_client_id)


def test_forged_signatures_are_refused(client, federated_client, issuer, stranger_key):
    _connection, credential = federated_client
    claims = issuer.claims(credential.subject)
    public_pem = issuer.keys[0].public_pem
    forgeries = {
        "alg none": unsigned(claims, kid="key-1"),
        "HS256 keyed with the public key": hs256(claims, public_pem, kid="key-1"),
        "signed by another key under the same key id": issuer.assertion(
            credential.subject, key=stranger_key
        ),
        "a valid signature over other claims": _spliced(issuer, credential.subject),
    }
    for name, forgery in forgeries.items():
        response = exchange(client, forgery)
        assert response.status_code == 400, name
        assert response.json()["error"] == "invalid_client", name
    assert not AccessToken.objects.exists()


def _spliced(issuer, subject):
    """The header and signature of one assertion around the claims of another."""
    header, _, signature = issuer.assertion(subject, aud="api://other").split(".")
    claims = issuer.assertion(subject).split(".")[1]
    return f"{header}.{claims}.{signature}"


def test_an_assertion_of_another_type_is_refused(client, federated_client, issuer):
    _connection, credential = federated_client
    response = exchange(
        client,
        issuer.assertion(credential.subject),
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
    )
    assert_refused(response, "client_assertion_type must be " + ASSERTION_TYPE)


@pytest.mark.parametrize("value", ["not-a-jwt", "a.b.c", "", "é" * 20])
def test_garbage_assertions_are_refused_in_json(client, federated_client, value):
    response = exchange(client, value)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


def test_an_unknown_key_id_refetches_the_keys_at_most_once_a_minute(
    client, federated_client, issuer
):
    _connection, credential = federated_client
    assert exchange(client, issuer.assertion(credential.subject)).status_code == 200
    assert issuer.fetched == [issuer.jwks_path]
    for attempt in range(5):
        response = exchange(client, issuer.assertion(credential.subject, kid=f"rotated-{attempt}"))
        assert_refused_once = response.json()
        assert response.status_code == 400
        assert "does not publish" in assert_refused_once["error_description"]
    assert issuer.fetched == [issuer.jwks_path] * 2  # one forced refetch, not five
    assert AccessToken.objects.count() == 1


def test_a_rotated_key_is_picked_up(client, federated_client, issuer):
    _connection, credential = federated_client
    assert exchange(client, issuer.assertion(credential.subject)).status_code == 200
    new_key = SigningKey("key-2")
    issuer.keys.append(new_key)
    issuer.publish()
    response = exchange(client, issuer.assertion(credential.subject, key=new_key))
    assert response.status_code == 200, response.content
    assert len(issuer.fetched) == 2


@pytest.mark.parametrize("discover", [False, True], ids=["jwks-url", "openid-configuration"])
def test_a_failed_fetch_is_not_tried_again_within_a_minute(client, issuer, discover):
    """A key server that fails or hangs must not cost a fetch (up to
    FEDERATION_FETCH_TIMEOUT of a worker) on every token request anyone sends naming its
    issuer: its failure is remembered for a minute, then it is asked again."""
    connection, _ = create_connection(
        account=OrganizationFactory(), name="E", provider="entra", credential_kind="bearer"
    )
    credential = federate(connection, issuer, discover=discover)
    failing = f"/{issuer.tenant}/v2.0/.well-known/openid-configuration" if discover else None
    issuer.serve(failing or issuer.jwks_path, {"error": "down"}, status=503)
    for _ in range(3):
        assert_refused(exchange(client, issuer.assertion(credential.subject)), "answered 503")
    assert len(issuer.fetched) == 1
    issuer.publish()
    cache.clear()  # a minute later, what it remembered has expired
    response = exchange(client, issuer.assertion(credential.subject))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("discover", [False, True], ids=["jwks-url", "openid-configuration"])
def test_keys_on_a_private_address_are_not_fetched(client, issuer, settings, discover):
    connection, _ = create_connection(
        account=OrganizationFactory(), name="E", provider="entra", credential_kind="client_secret"
    )
    credential = federate(connection, issuer, discover=discover)
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "FEDERATION_ALLOW_PRIVATE_NETWORKS": False}
    response = exchange(client, issuer.assertion(credential.subject))
    assert_refused(response, "private address", "not fetched")
    assert issuer.fetched == []


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:169.254.169.254",  # IPv4-mapped
        "64:ff9b::a9fe:a9fe",  # NAT64 (RFC 6052): reaches 169.254.169.254 through a gateway
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "::127.0.0.1",  # IPv4-compatible (deprecated)
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    ],
)
def test_ipv6_forms_of_private_ipv4_addresses_are_not_fetched(monkeypatch, address):
    """Python's ``is_global`` calls these IPv6 addresses public, yet each carries a private
    IPv4 address that a NAT64 gateway or a 6to4 relay may reach."""
    from scim_portal import _outbound
    from scim_portal.oauth import federation

    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]

    monkeypatch.setattr(_outbound.socket, "getaddrinfo", resolve)
    with pytest.raises(federation.FederationError, match="private address"):
        federation.fetch_json("https://keys.example/discovery/keys")


def test_a_public_ipv6_address_passes_the_guard(monkeypatch):
    from scim_portal import _outbound

    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:4700::1", port, 0, 0))]

    monkeypatch.setattr(_outbound.socket, "getaddrinfo", resolve)
    assert _outbound.address_of("keys.example", 443, allow_private=False) == "2606:4700::1"


@pytest.mark.parametrize(
    ("jwks_url", "words"),
    [
        ("https://" + "é" * 60 + ".example/keys", ["Cannot resolve"]),
        ("https://keys.example:99999/keys", ["not an http(s) URL"]),
    ],
    ids=["too-long-once-idna-encoded", "port-out-of-range"],
)
def test_a_key_url_that_cannot_be_fetched_is_refused(client, issuer, jwks_url, words):
    """URLs that pass Django's URL validation, as every stored one did, yet no fetch can
    take (a host name too long once IDNA-encoded, a port past 65535): refused in JSON,
    not a 500."""
    connection, _ = create_connection(
        account=OrganizationFactory(), name="E", provider="entra", credential_kind="bearer"
    )
    credential = federate(connection, issuer, jwks_url=jwks_url)
    assert_refused(exchange(client, issuer.assertion(credential.subject)), *words)


def test_a_silent_key_server_is_given_up_on_in_time(client, issuer, settings):
    silent = SilentServer()
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "FEDERATION_FETCH_TIMEOUT": 0.5}
    try:
        connection, _ = create_connection(
            account=OrganizationFactory(), name="E", provider="entra", credential_kind="bearer"
        )
        credential = federate(connection, issuer, jwks_url=silent.url)
        started = time.monotonic()
        response = exchange(client, issuer.assertion(credential.subject))
        elapsed = time.monotonic() - started
    finally:
        silent.stop()
    assert_refused(response, "0.5 seconds")
    assert elapsed < 4  # 0.5 s and the request around it, on a busy machine


def test_a_key_server_answering_byte_by_byte_is_given_up_on_in_time(client, issuer, settings):
    """Each byte comes before a per-read timeout would fire: only a deadline on the whole
    fetch ends it."""
    drip = DripServer(interval=0.05)
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "FEDERATION_FETCH_TIMEOUT": 0.5}
    try:
        connection, _ = create_connection(
            account=OrganizationFactory(), name="E", provider="entra", credential_kind="bearer"
        )
        credential = federate(connection, issuer, jwks_url=drip.url)
        started = time.monotonic()
        response = exchange(client, issuer.assertion(credential.subject))
        elapsed = time.monotonic() - started
    finally:
        drip.stop()
    assert_refused(response, "0.5 seconds")
    assert elapsed < 4  # 0.5 s and the request around it, on a busy machine


@pytest.mark.parametrize(
    ("document", "words"),
    [
        (
            b'{"keys": [' + b'{"kty": "RSA", "n": "AQAB", "e": "AQAB"},' * 20_000 + b"{}]}",
            ["larger"],
        ),
        (b"<html>not json</html>", ["not JSON"]),
        (b"[1, 2, 3]", ["not a JSON object"]),
        (b'{"keys": []}', ["no usable keys"]),
        (b'{"keys": [{"kty": "nonsense"}]}', ["no usable keys"]),
    ],
    ids=["oversized", "html", "array", "empty", "unknown-key-type"],
)
def test_bad_key_documents_are_refused(client, federated_client, issuer, document, words):
    _connection, credential = federated_client
    issuer.serve(issuer.jwks_path, document)
    assert_refused(exchange(client, issuer.assertion(credential.subject)), *words)


def test_a_key_server_error_is_refused(client, federated_client, issuer):
    _connection, credential = federated_client
    issuer.serve(issuer.jwks_path, {"error": "down"}, status=500)
    assert_refused(exchange(client, issuer.assertion(credential.subject)), "answered 500")


def test_two_connections_trusting_one_workload_need_the_client_id(client, issuer):
    """Two connections may trust the same issuer, subject and audience: the assertion
    alone names neither, so the client must send ``client_id`` (Entra can)."""
    subject = str(uuid.uuid4())
    connections = []
    for name in ("A", "B"):
        connection, _ = create_connection(
            account=OrganizationFactory(), name=name, provider="entra", credential_kind="bearer"
        )
        federate(connection, issuer, subject=subject, audience=AUDIENCE)
        connections.append(connection)
    assert_refused(exchange(client, issuer.assertion(subject)), "send client_id")
    response = exchange(client, issuer.assertion(subject), connections[1].oauth_client_id)
    assert response.status_code == 200
    assert AccessToken.objects.get().credential.connection == connections[1]


@pytest.mark.parametrize("send_client_id", [False, True], ids=["no-client-id", "client-id"])
def test_a_second_issuer_like_the_first_overlaps_it(client, issuer, send_client_id):
    """Issuing a federated issuer again (a new expiry, another JWKS URL) before revoking
    the old one is rotation with overlap, as for every kind: assertions keep working, and
    the newest is the one that acts."""
    connection, _ = create_connection(
        account=OrganizationFactory(), name="E", provider="entra", credential_kind="bearer"
    )
    subject = str(uuid.uuid4())
    federate(connection, issuer, subject=subject, label="old")
    newest = federate(connection, issuer, subject=subject, discover=True, label="new")
    client_id = connection.oauth_client_id if send_client_id else None
    response = exchange(client, issuer.assertion(subject), client_id)
    assert response.status_code == 200, response.content
    assert AccessToken.objects.get().credential == newest


@pytest.mark.parametrize("claim", ["iss", "sub", "aud"])
def test_a_nul_character_in_a_claim_is_refused(client, federated_client, issuer, claim):
    _connection, credential = federated_client
    claims = {"iss": issuer.url, "sub": credential.subject, "aud": AUDIENCE}
    assertion = issuer.assertion(credential.subject, **{claim: claims[claim] + "\x00"})
    assert_refused(exchange(client, assertion))


@pytest.mark.parametrize("claim", ["iss", "sub", "aud"])
def test_a_lone_surrogate_in_a_claim_is_refused(client, federated_client, issuer, claim):
    _connection, credential = federated_client
    claims = {"iss": issuer.url, "sub": credential.subject, "aud": AUDIENCE}
    assertion = issuer.assertion(credential.subject, **{claim: claims[claim] + "\ud800"})
    assert_refused(exchange(client, assertion))


def test_a_lone_surrogate_in_the_jti_is_just_an_id(client, federated_client, issuer):
    _connection, credential = federated_client
    assertion = issuer.assertion(credential.subject, jti="once-\ud800")
    assert exchange(client, assertion).status_code == 200
    assert exchange(client, assertion).status_code == 400


def test_refused_assertions_of_a_known_issuer_reach_its_connections_log(
    client, federated_client, issuer
):
    """What the tenant admin sees when their identity provider's assertions fail."""
    connection, credential = federated_client
    expired = issuer.assertion(credential.subject, exp=now() - 600, iat=now() - 900, nbf=None)
    assert exchange(client, expired).status_code == 400
    assert exchange(client, issuer.assertion("someone-else")).status_code == 400
    row = RequestLog.objects.get(connection=connection)
    assert (row.status, row.credential_kind, row.token_prefix) == (
        400,
        "federated",
        credential.subject,
    )
    assert "expired" in row.detail
    assert expired not in str(list(RequestLog.objects.values()))


def test_a_subject_longer_than_the_logs_column_is_logged_cut(client, issuer):
    """A federated subject may be up to 500 characters (GitHub's and Google's are long);
    the request log keeps the start of it, as on SQLite, and PostgreSQL does not refuse
    the row."""
    connection, _ = create_connection(
        account=OrganizationFactory(), name="E", provider="entra", credential_kind="bearer"
    )
    subject = "repo:example-organisation/a-long-repository-name:ref:refs/heads/main"
    federate(connection, issuer, subject=subject)
    response = exchange(client, issuer.assertion(subject), connection.oauth_client_id)
    assert response.status_code == 200, response.content
    row = RequestLog.objects.get(connection=connection)
    assert (row.status, row.credential_kind) == (200, "federated")
    assert subject.startswith(row.token_prefix) and len(row.token_prefix) == 40
