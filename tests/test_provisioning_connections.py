import pytest

from scim_portal.models import Connection, Credential, DirectoryUser, GroupMembership
from scim_portal.providers import UnknownProvider
from scim_portal.provisioning import create_connection, delete_connection
from tests.factories import DirectoryGroupFactory, DirectoryUserFactory

pytestmark = pytest.mark.django_db


def test_create_connection_issues_a_first_token(organization):
    connection, issued = create_connection(account=organization, name=" Okta ", provider="okta")
    assert connection.name == "Okta"
    assert connection.provider_info.name == "Okta"
    assert list(connection.credentials.all()) == [issued.token]


@pytest.mark.parametrize(
    ("name", "provider", "error"),
    [("Okta", "oktaa", UnknownProvider), ("   ", "okta", ValueError)],
)
def test_create_connection_refuses_bad_input_and_writes_nothing(
    organization, name, provider, error
):
    with pytest.raises(error):
        create_connection(account=organization, name=name, provider=provider)
    assert not Connection.objects.exists()
    assert not Credential.objects.exists()


def test_delete_connection_removes_its_directory_only(organization):
    doomed, _ = create_connection(account=organization, name="A", provider="okta")
    kept, _ = create_connection(account=organization, name="B", provider="okta")
    group = DirectoryGroupFactory(connection=doomed)
    for user in DirectoryUserFactory.create_batch(3, connection=doomed):
        GroupMembership.objects.create(group=group, user=user)
    survivor = DirectoryUserFactory(connection=kept)

    result = delete_connection(doomed)

    assert (result.users, result.groups) == (3, 1)
    assert list(DirectoryUser.objects.all()) == [survivor]
    assert not GroupMembership.objects.exists()
    assert list(Credential.objects.values_list("connection", flat=True)) == [kept.pk]
