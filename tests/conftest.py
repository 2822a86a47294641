import pytest

from scim_portal.provisioning import create_connection
from tests.factories import ConnectionFactory, OrganizationFactory


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
