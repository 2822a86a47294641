"""The SQL written once for the per-request statements gives what the ORM gives."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from scim_portal.models import (
    Connection,
    ConnectionToken,
    DirectoryGroup,
    DirectoryUser,
    GroupMembership,
    RequestLog,
    _sql,
)
from scim_portal.provisioning import directory
from scim_portal.scim.resources import GROUPS, USERS
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def fields_of(obj):
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def test_token_and_connection_are_the_orm_s(issued_connection):
    connection, issued = issued_connection
    expires = timezone.now() + timedelta(days=3)
    ConnectionToken.objects.filter(pk=issued.token.pk).update(
        last_used_at=timezone.now(), expires_at=expires, label="Okta prod"
    )
    Connection.objects.filter(pk=connection.pk).update(last_request_at=timezone.now())
    found = ConnectionToken.objects.by_value(issued.raw)
    orm = ConnectionToken.objects.select_related("connection").get(pk=issued.token.pk)
    assert fields_of(found) == fields_of(orm)
    assert fields_of(found.connection) == fields_of(orm.connection)
    assert found.expires_at == expires and found._state.adding is False


def test_one_by_builds_the_orm_s_instance(connection):
    user = directory.create_user(
        connection,
        {"userName": "ada@example.com", "name": {"givenName": "Ada"}, "externalId": "e-1"},
    )
    group = directory.create_group(connection, {"displayName": "Eng"})
    for model, obj in ((DirectoryUser, user), (DirectoryGroup, group)):
        found = _sql.one_by(model, {"connection": connection.pk, "id": str(obj.pk)})
        assert fields_of(found) == fields_of(model.objects.get(pk=obj.pk))
    # Another connection's user is not found through this one; neither is an unknown id.
    other = directory.create_user(ConnectionFactory(), {"userName": "ada@example.com"})
    assert _sql.one_by(DirectoryUser, {"connection": connection.pk, "id": other.pk}) is None
    assert _sql.one_by(DirectoryUser, {"connection": other.connection_id, "id": other.pk})
    assert _sql.one_by(DirectoryUser, {"connection": connection.pk, "id": "0" * 32}) is None
    with pytest.raises(ValidationError):
        _sql.one_by(DirectoryUser, {"connection": connection.pk, "id": "not-a-uuid"})
    # The unique userName key is the folded name, whatever the case it was sent in.
    zoe = directory.create_user(connection, {"userName": "ZOË.Ωmega@example.com"})
    for found, expected in (("ada@example.com", user), ("zoë.ωmega@example.com", zoe)):
        by_key = _sql.one_by(DirectoryUser, {"connection": connection.pk, "user_name_key": found})
        assert fields_of(by_key) == fields_of(DirectoryUser.objects.get(pk=expected.pk))
        assert fields_of(by_key) == fields_of(
            DirectoryUser.objects.get(connection=connection, user_name_key=found)
        )
    assert (
        _sql.one_by(DirectoryUser, {"connection": connection.pk, "user_name": "ADA@example.com"})
        is None
    )


def test_insert_writes_every_column(connection):
    entry = RequestLog(
        connection_id=connection.pk,
        method="PATCH",
        path="/scim/v2/x/Users/1",
        query="a=1",
        status=409,
        duration_ms=1.25,
        scim_type="uniqueness",
        detail="taken",
        user_agent="Okta SCIM Client 1.0.0",
        idp="okta",
        token_prefix="scimp_abc",
        request_body='{"a": 1}',
        response_body='{"b": 2}',
    )
    _sql.insert(entry)
    stored = RequestLog.objects.get()
    assert {k: v for k, v in fields_of(stored).items() if k != "id"} == {
        k: v for k, v in fields_of(entry).items() if k != "id"
    }


def test_insert_refuses_a_model_whose_key_is_not_the_database_s():
    with pytest.raises(ValueError, match="not assigned by the database"):
        _sql.insert(DirectoryUser(user_name="x"))


def test_values_in_are_the_orm_s(connection):
    users = [
        directory.create_user(connection, {"userName": f"u{i}@example.com", "displayName": n})
        for i, n in enumerate(["Ada", "", "Grace"])
    ]
    ids = [str(user.pk) for user in users]
    for name in ("Eng", "Ops"):
        directory.create_group(
            connection, {"displayName": name}, directory.MemberChange("add", tuple(ids[:2]))
        )
    for kind in (USERS, GROUPS):
        owners = list(GroupMembership.objects.values_list(kind.owner_field, flat=True).distinct())
        names = (kind.owner_field, *kind.item_fields)
        expected = list(
            GroupMembership.objects.filter(**{f"{kind.owner_field}__in": owners})
            .values_list(*names)
            .order_by(kind.item_fields[0])
        )
        found = _sql.values_in(
            GroupMembership, names, kind.owner_field, owners, order_by=kind.item_fields[0]
        )
        assert found == expected and len(found) == 4
    assert _sql.values_in(GroupMembership, ("user_id",), "user_id", [], order_by="user_id") == []


def test_one_with_values_is_one_by_and_values_in(connection):
    users = [directory.create_user(connection, {"userName": f"u{i}@example.com"}) for i in range(3)]
    for name in ("Eng", "Ops", "Admins"):
        directory.create_group(
            connection, {"displayName": name}, directory.MemberChange("add", (str(users[0].pk),))
        )
    directory.create_group(
        connection, {"displayName": "Solo"}, directory.MemberChange("add", (str(users[1].pk),))
    )
    other = directory.create_user(ConnectionFactory(), {"userName": "u0@example.com"})
    names = USERS.related_names
    for user in (*users, other):
        where = {"connection": connection.pk, "id": str(user.pk)}
        found = _sql.one_with_values(
            DirectoryUser, where, GroupMembership, names, "user_id", order_by="group_id"
        )
        expected = _sql.one_by(DirectoryUser, where)
        if expected is None:  # another connection's user
            assert found is None and user is other
            continue
        values = _sql.values_in(GroupMembership, names, "user_id", [user.pk], order_by="group_id")
        assert fields_of(found[0]) == fields_of(expected)
        assert found[1] == values
    assert [len(_sql.values_in(GroupMembership, names, "user_id", [u.pk], "group_id"))
            for u in users] == [3, 1, 0]  # fmt: skip


def test_a_filtered_token_queryset_keeps_its_filter(issued_connection):
    connection, issued = issued_connection
    other = ConnectionFactory()
    assert ConnectionToken.objects.filter(connection=other).by_value(issued.raw) is None
    mine = ConnectionToken.objects.filter(connection=connection).by_value(issued.raw)
    assert mine is not None and mine.connection == connection
