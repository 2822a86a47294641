import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from scim_portal.models import Connection, GroupMembership
from tests.factories import (
    ConnectionFactory,
    DirectoryGroupFactory,
    DirectoryUserFactory,
)

pytestmark = pytest.mark.django_db


def test_user_name_unique_per_connection_ignoring_case(connection):
    DirectoryUserFactory(connection=connection, user_name="Ada.Lovelace@Example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        DirectoryUserFactory(connection=connection, user_name="ada.lovelace@example.COM")


@pytest.mark.parametrize(
    ("model", "field", "name", "other"),
    [
        ("user", "user_name", "Émile@example.com", "ÉMILE@EXAMPLE.COM"),
        ("user", "user_name", "straße@example.com", "STRASSE@example.com"),
        ("group", "display_name", "Zoë Ωmega", "ZOË ΩMEGA"),
    ],
)
def test_names_are_unique_by_unicode_case_folding_however_saved(
    connection, model, field, name, other
):
    """The folded key is set on save and by bulk_create, not only by the provisioning API."""
    factory = DirectoryUserFactory if model == "user" else DirectoryGroupFactory
    factory(connection=connection, **{field: name})
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(connection=connection, **{field: other})
    built = factory.build(connection=connection, **{field: other})
    with pytest.raises(IntegrityError), transaction.atomic():
        type(built).objects.bulk_create([built])


def test_same_user_name_allowed_in_two_connections():
    first, second = ConnectionFactory(), ConnectionFactory()
    DirectoryUserFactory(connection=first, user_name="ada@example.com")
    DirectoryUserFactory(connection=second, user_name="ada@example.com")


def test_group_display_name_unique_per_connection_ignoring_case(connection):
    DirectoryGroupFactory(connection=connection, display_name="Engineering")
    with pytest.raises(IntegrityError), transaction.atomic():
        DirectoryGroupFactory(connection=connection, display_name="ENGINEERING")
    DirectoryGroupFactory(display_name="Engineering")  # another connection


def test_membership_pair_is_unique(connection):
    user = DirectoryUserFactory(connection=connection)
    group = DirectoryGroupFactory(connection=connection)
    GroupMembership.objects.create(group=group, user=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        GroupMembership.objects.create(group=group, user=user)
    assert list(user.directory_groups.all()) == [group]
    assert list(group.members.all()) == [user]


def test_ids_are_time_ordered_uuids(connection):
    users = [DirectoryUserFactory(connection=connection) for _ in range(5)]
    assert all(user.id.version == 7 for user in users)
    assert [u.id for u in users] == sorted(u.id for u in users)


def test_connection_counts_in_one_query(django_assert_num_queries):
    connection = ConnectionFactory()
    DirectoryUserFactory.create_batch(3, connection=connection)
    DirectoryGroupFactory.create_batch(2, connection=connection)
    ConnectionFactory(account=connection.account)  # empty one
    with django_assert_num_queries(1):
        rows = list(Connection.objects.with_counts().order_by("created_at"))
    assert [(c.user_count, c.group_count) for c in rows] == [(3, 2), (0, 0)]


def test_scim_url_ends_with_connection_id(connection):
    assert connection.scim_url() == f"https://saas.example.test/scim/v2/{connection.id}"
    assert connection.scim_url("http://testserver/") == f"http://testserver/scim/v2/{connection.id}"


def test_deleting_the_account_deletes_its_connections(connection):
    DirectoryUserFactory(connection=connection)
    connection.account.delete()
    assert not Connection.objects.filter(pk=connection.pk).exists()


def test_saving_a_stale_connection_leaves_its_event_counter_alone(scim):
    """A host's ``connection.save()`` from an instance loaded before the last change used
    to move the counter back: every later write collided with an event number and got a
    500, for good."""
    stale = Connection.objects.get(pk=scim.connection.pk)
    scim.create_user("ada@example.com")
    marked = timezone.now()
    Connection.objects.filter(pk=stale.pk).update(deleting_since=marked)
    stale.name = "Renamed in the shell"
    stale.save()
    # Nor does it clear the mark of a deletion under way (which refuses new credentials).
    assert Connection.objects.get(pk=stale.pk).deleting_since == marked
    Connection.objects.filter(pk=stale.pk).update(deleting_since=None)
    bob = scim.create_user("bob@example.com")  # asserts the 201
    fresh = Connection.objects.get(pk=scim.connection.pk)
    assert fresh.name == "Renamed in the shell"
    numbers = list(fresh.events.order_by("number").values_list("number", flat=True))
    assert numbers == list(range(1, fresh.last_event_number + 1))
    assert fresh.events.filter(type="user.created", resource_id=bob["id"]).exists()


def test_a_connection_copied_by_clearing_its_pk_is_a_new_row(connection):
    """Django's way of copying an instance (pk = None, then save()) inserts, as for any model."""
    copy = Connection.objects.get(pk=connection.pk)
    copy.pk, copy.name = None, "Copy"
    copy.save()
    assert copy.pk != connection.pk
    assert Connection.objects.get(pk=copy.pk).name == "Copy"
    assert Connection.objects.get(pk=connection.pk).name == connection.name
