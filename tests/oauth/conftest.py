import uuid

import pytest

from scim_portal.provisioning import create_connection, issue_credential
from tests.factories import OrganizationFactory
from tests.oauth.issuer import AUDIENCE, Issuer, SigningKey

TOKEN_URL = "/scim/oauth/token"


@pytest.fixture(scope="session")
def signing_key():
    return SigningKey("key-1")


@pytest.fixture(scope="session")
def stranger_key():
    """A key pair nobody publishes."""
    return SigningKey("key-1")


@pytest.fixture
def federation_settings(settings):
    """The issuers of these tests serve their keys over http from 127.0.0.1."""
    settings.SCIM_PORTAL = {
        **settings.SCIM_PORTAL,
        "FEDERATION_ALLOW_HTTP": True,
        "FEDERATION_ALLOW_PRIVATE_NETWORKS": True,
        "FEDERATION_FETCH_TIMEOUT": 1.0,
    }
    return settings


@pytest.fixture
def issuer(signing_key, federation_settings):
    served = Issuer(signing_key)
    yield served
    served.stop()


@pytest.fixture
def secret_client(db):
    """An Entra connection with one client secret: (connection, issued secret)."""
    connection, issued = create_connection(
        account=OrganizationFactory(),
        name="Entra",
        provider="entra",
        credential_kind="client_secret",
    )
    return connection, issued


def federate(connection, issuer, *, discover=False, **fields):
    """A federated issuer of ``connection`` trusting ``issuer``'s tokens for one object id;
    its keys at a JWKS URL, or (``discover``) found through the OpenID configuration."""
    issued = issue_credential(
        connection,
        "federated",
        issuer=fields.pop("issuer", issuer.url),
        subject=fields.pop("subject", str(uuid.uuid4())),
        audience=fields.pop("audience", AUDIENCE),
        jwks_url="" if discover else fields.pop("jwks_url", issuer.jwks_url),
        **fields,
    )
    connection.refresh_from_db()
    return issued.credential


@pytest.fixture
def federated_client(db, issuer):
    """An Entra connection trusting ``issuer`` (workload identity federation):
    (connection, federated credential)."""
    connection, issued = create_connection(
        account=OrganizationFactory(),
        name="Entra",
        provider="entra",
        credential_kind="federated",
        issuer=issuer.url,
        subject=str(uuid.uuid4()),
        audience=AUDIENCE,
        jwks_url=issuer.jwks_url,
    )
    return connection, issued.credential
