import pytest
from django.test import Client

from tests.factories import UserFactory


@pytest.fixture
def staff(db):
    """Django's test client, signed in as a vendor superuser named "vendor"."""
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True, username="vendor"))
    return client
