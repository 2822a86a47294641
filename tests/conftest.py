import pytest

from scim_portal.provisioning import create_connection
from tests.factories import ConnectionFactory, OrganizationFactory
from tests.scim_client import ScimClient


@pytest.fixture
def organization(db):
    return OrganizationFactory()


@pytest.fixture
def connection(db):
    return ConnectionFactory()


@pytest.fixture
def issued_connection(organization):
    """A connection created through the service layer, with its raw token."""
    return create_connection(account=organization, name="Okta", provider="okta")


@pytest.fixture
def scim(client, db):
    connection, issued = create_connection(
        account=OrganizationFactory(), name="Primary", provider="okta"
    )
    return ScimClient(client, connection, issued.raw)


@pytest.fixture
def other_scim(client, db):
    """A second connection, in another account."""
    connection, issued = create_connection(
        account=OrganizationFactory(), name="Other", provider="entra"
    )
    return ScimClient(client, connection, issued.raw)
