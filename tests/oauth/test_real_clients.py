"""A real OAuth 2.0 client library, not the server's own code, gets tokens over real HTTP
and provisions with them, the way Microsoft Entra ID does.

The client is requests-oauthlib over oauthlib (a second implementation of RFC 6749,
independent of Authlib, which the server is built on): its ``BackendApplicationClient``
is the client credentials grant, with the secret in HTTP Basic (``client_secret_basic``)
or in the form (``client_secret_post``), or with an RFC 7523 client assertion signed by
a key pair made here and published by a JWKS server on 127.0.0.1 (Entra's workload
identity federation: ``iss`` the issuer, ``sub`` an object id, ``aud`` the configured
audience, with ``jti`` or Entra's ``uti``).
"""

import json

import pytest
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from scim_portal.models import AccessToken, DirectoryUser, RequestLog
from tests.oauth.conftest import TOKEN_URL, federate
from tests.oauth.issuer import ASSERTION_TYPE

SCIM = "application/scim+json"


@pytest.fixture(autouse=True)
def _plain_http_on_loopback(monkeypatch):
    """The live server speaks http on localhost; oauthlib insists on https otherwise."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def recorded(session):
    """The HTTP requests ``session`` sends, as they went on the wire."""
    sent = []
    session.hooks["response"].append(lambda response, *args, **kw: sent.append(response.request))
    return sent


def provision(session, live_server, connection, user_name):
    """GET /Users and POST /Users with the session's access token."""
    base = f"{live_server.url}/scim/v2/{connection.pk}"
    listed = session.get(f"{base}/Users", headers={"Accept": SCIM})
    assert listed.status_code == 200, listed.text
    assert listed.json()["totalResults"] == 0
    created = session.post(
        f"{base}/Users",
        data=json.dumps({"userName": user_name, "active": True}),
        headers={"Content-Type": SCIM, "Accept": SCIM},
    )
    assert created.status_code == 201, created.text
    assert created.json()["userName"] == user_name
    assert DirectoryUser.objects.get(connection=connection).user_name == user_name
    again = session.get(f"{base}/Users", params={"filter": f'userName eq "{user_name}"'})
    assert again.json()["totalResults"] == 1


def assert_token(token, connection, kind):
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == connection.access_token_lifetime == 3600
    stored = AccessToken.objects.get()
    assert stored.credential.kind == kind
    assert stored.credential.connection_id == connection.pk
    assert token["access_token"] not in str(list(AccessToken.objects.values()))


def test_client_secret_basic(live_server, secret_client):
    connection, issued = secret_client
    session = OAuth2Session(client=BackendApplicationClient(client_id=connection.oauth_client_id))
    sent = recorded(session)
    token = session.fetch_token(
        live_server.url + TOKEN_URL, client_secret=issued.raw, scope=["scim"]
    )
    assert sent[0].headers["Authorization"].startswith("Basic ")
    assert "client_secret" not in sent[0].body
    assert_token(token, connection, "client_secret")
    provision(session, live_server, connection, "basic@example.com")


def test_client_secret_post(live_server, secret_client):
    connection, issued = secret_client
    session = OAuth2Session(client=BackendApplicationClient(client_id=connection.oauth_client_id))
    sent = recorded(session)
    token = session.fetch_token(
        live_server.url + TOKEN_URL,
        client_id=connection.oauth_client_id,
        client_secret=issued.raw,
        include_client_id=True,
    )
    assert "Authorization" not in sent[0].headers
    assert "client_secret=scimcs_" in sent[0].body
    assert_token(token, connection, "client_secret")
    provision(session, live_server, connection, "post@example.com")
    log = RequestLog.objects.filter(connection=connection, path=TOKEN_URL).get()
    assert (log.status, log.credential_kind) == (200, "client_secret")


@pytest.mark.parametrize("send_client_id", [False, True], ids=["no-client-id", "client-id"])
def test_federated_assertion_with_jwks_url(live_server, federated_client, issuer, send_client_id):
    connection, credential = federated_client
    client_id = connection.oauth_client_id if send_client_id else None
    session = OAuth2Session(client=BackendApplicationClient(client_id=client_id))
    token = session.fetch_token(
        live_server.url + TOKEN_URL,
        include_client_id=send_client_id,
        client_assertion_type=ASSERTION_TYPE,
        client_assertion=issuer.assertion(credential.subject),
    )
    assert_token(token, connection, "federated")
    assert issuer.fetched == [issuer.jwks_path]  # the JWKS only: its URL was configured
    provision(session, live_server, connection, "federated@example.com")


def test_federated_assertion_with_discovered_keys(live_server, issuer, secret_client):
    """Only the issuer is configured: its keys are found through
    ``<issuer>/.well-known/openid-configuration``; Entra's ``uti`` stands for ``jti``."""
    connection, _ = secret_client
    credential = federate(connection, issuer, discover=True)
    assert credential.jwks_url == ""
    session = OAuth2Session(client=BackendApplicationClient(client_id=None))
    assertion = issuer.assertion(credential.subject, jti=None, uti="AbCdEf0123456789")
    token = session.fetch_token(
        live_server.url + TOKEN_URL,
        client_assertion_type=ASSERTION_TYPE,
        client_assertion=assertion,
    )
    assert_token(token, connection, "federated")
    assert issuer.fetched == [
        f"/{issuer.tenant}/v2.0/.well-known/openid-configuration",
        issuer.jwks_path,
    ]
    provision(session, live_server, connection, "discovered@example.com")
    # Both documents are cached: a second assertion fetches nothing.
    second = OAuth2Session(client=BackendApplicationClient(client_id=None))
    second.fetch_token(
        live_server.url + TOKEN_URL,
        client_assertion_type=ASSERTION_TYPE,
        client_assertion=issuer.assertion(credential.subject),
    )
    assert len(issuer.fetched) == 2
