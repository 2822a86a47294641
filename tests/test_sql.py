"""The statements the managers write by hand give what their ORM twins give, run each
field's ``pre_save``, and go to the database the router chooses (docs/benchmarks.md,
"Hand-written SQL, statement by statement")."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import DataError, transaction
from django.db import connection as connection_
from django.db.models import F, Q, Value
from django.db.models.functions import Upper
from django.db.utils import ConnectionDoesNotExist
from django.test import override_settings
from django.utils import timezone

from scim_portal import _secrets
from scim_portal.models import (
    AccessToken,
    Connection,
    Credential,
    CredentialKind,
    DirectoryGroup,
    DirectoryUser,
    GroupMembership,
    ProvisioningEvent,
    RequestLog,
)
from scim_portal.models.credentials import ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX
from scim_portal.provisioning import directory, issue_credential
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def fields_of(obj):
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def test_token_and_connection_are_the_orm_s(issued_connection):
    connection, issued = issued_connection
    expires = timezone.now() + timedelta(days=3)
    Credential.objects.filter(pk=issued.token.pk).update(
        last_used_at=timezone.now(), expires_at=expires, label="Okta prod"
    )
    Connection.objects.filter(pk=connection.pk).update(last_request_at=timezone.now())
    found = Credential.objects.by_value(issued.raw)
    orm = Credential.objects.select_related("connection").get(pk=issued.token.pk)
    assert fields_of(found) == fields_of(orm)
    assert fields_of(found.connection) == fields_of(orm.connection)
    assert found.expires_at == expires and found._state.adding is False


def test_the_basic_lookup_is_the_orm_s(issued_connection):
    connection, _ = issued_connection
    issued = issue_credential(connection, CredentialKind.BASIC, label="Okta")
    Credential.objects.filter(pk=issued.credential.pk).update(last_used_at=timezone.now())
    found = Credential.objects.by_secret(CredentialKind.BASIC, issued.raw)
    orm = Credential.objects.filter(pk__isnull=False).by_secret(CredentialKind.BASIC, issued.raw)
    assert found is not None and found.username == issued.credential.username
    assert fields_of(found) == fields_of(orm)
    assert fields_of(found.connection) == fields_of(orm.connection)
    # A Basic password is no bearer token, and a bearer token no Basic password.
    bearer = issued_connection[1].raw
    assert Credential.objects.by_secret(CredentialKind.BEARER, issued.raw) is None
    assert Credential.objects.by_secret(CredentialKind.BASIC, bearer) is None


def orm_access_token(raw):
    """The ORM twin of ``AccessToken.objects.by_value``: one statement joining the access
    token, its credential and the connection, the token and the credential both live."""
    now = timezone.now()
    return (
        AccessToken.objects.select_related("credential__connection")
        .filter(
            Q(credential__expires_at__isnull=True) | Q(credential__expires_at__gt=now),
            digest=Credential.digest_of(raw),
            revoked_at__isnull=True,
            expires_at__gt=now,
            credential__revoked_at__isnull=True,
        )
        .first()
    )


def new_access_token(credential, expires_in=timedelta(hours=1), **fields):
    """An access token of ``credential`` as the token endpoint stores it; its value."""
    raw = _secrets.generate(ACCESS_TOKEN_PREFIX)
    now = timezone.now()
    AccessToken.objects.create(
        credential=credential,
        digest=Credential.digest_of(raw),
        prefix=_secrets.display_prefix(raw, ACCESS_TOKEN_PREFIX),
        created_at=now,
        expires_at=now + expires_in,
        **fields,
    )
    return raw


def client_secret(label="Entra", **fields):
    issued = issue_credential(ConnectionFactory(), CredentialKind.CLIENT_SECRET, label=label)
    Credential.objects.filter(pk=issued.credential.pk).update(**fields)
    return Credential.objects.get(pk=issued.credential.pk)


def assert_access_token_is_the_orm_s(raw):
    found, orm = AccessToken.objects.by_value(raw), orm_access_token(raw)
    if orm is None:
        assert found is None
        return None
    assert found is not None
    assert fields_of(found) == fields_of(orm)
    assert fields_of(found.credential) == fields_of(orm.credential)
    assert fields_of(found.credential.connection) == fields_of(orm.credential.connection)
    assert found._state.adding is False and found.credential.connection._state.adding is False
    return found


def test_the_access_token_lookup_is_the_orm_s():
    now = timezone.now()
    live = client_secret(expires_at=now + timedelta(days=30), last_used_at=now)
    Connection.objects.filter(pk=live.connection_id).update(last_request_at=now)
    ok = new_access_token(
        live, scope="scim", refresh_digest="r" * 64, refresh_expires_at=now + timedelta(days=90)
    )
    found = assert_access_token_is_the_orm_s(ok)
    assert found.credential.pk == live.pk and found.credential.connection.pk == live.connection_id
    assert found.scope == "scim" and found.connection_id == live.connection_id
    # A credential without expiry keeps its tokens live.
    assert assert_access_token_is_the_orm_s(new_access_token(client_secret())) is not None
    # Expired or revoked tokens, revoked or expired credentials: neither finds anything.
    dead = [
        new_access_token(live, expires_in=timedelta(seconds=-1)),
        new_access_token(live, revoked_at=now),
        new_access_token(client_secret(revoked_at=now)),
        new_access_token(client_secret(expires_at=now - timedelta(seconds=1))),
    ]
    for raw in dead:
        assert AccessToken.objects.filter(digest=Credential.digest_of(raw)).exists()
        assert assert_access_token_is_the_orm_s(raw) is None
    # Neither does an unknown value, a refresh token's, or one changed in one character.
    refresh = REFRESH_TOKEN_PREFIX + ok[len(ACCESS_TOKEN_PREFIX) :]
    for raw in (ACCESS_TOKEN_PREFIX + "x" * 43, refresh, ok[:-1] + ("A" if ok[-1] != "A" else "B")):
        assert AccessToken.objects.by_value(raw) is None and orm_access_token(raw) is None
    # A filtered queryset keeps its filter, and its dead tokens stay dead.
    other = client_secret()
    assert AccessToken.objects.filter(credential=other).by_value(ok) is None
    mine = AccessToken.objects.filter(credential=live).by_value(ok)
    assert mine is not None and fields_of(mine) == fields_of(found)
    assert AccessToken.objects.filter(credential=live).by_value(dead[1]) is None


def test_one_is_the_orm_s_instance(connection):
    user = directory.create_user(
        connection,
        {"userName": "ada@example.com", "name": {"givenName": "Ada"}, "externalId": "e-1"},
    )
    group = directory.create_group(connection, {"displayName": "Eng"})
    for model, obj in ((DirectoryUser, user), (DirectoryGroup, group)):
        found = model.objects.one(connection.pk, id=str(obj.pk))
        assert fields_of(found) == fields_of(model.objects.get(pk=obj.pk))
        assert found._state.adding is False and found._state.db == "default"
    # Another connection's user is not found through this one; neither is an unknown id.
    other = directory.create_user(ConnectionFactory(), {"userName": "ada@example.com"})
    assert DirectoryUser.objects.one(connection.pk, id=other.pk) is None
    assert DirectoryUser.objects.one(other.connection_id, id=other.pk)
    assert DirectoryUser.objects.one(connection.pk, id="0" * 32) is None
    with pytest.raises(ValidationError):
        DirectoryUser.objects.one(connection.pk, id="not-a-uuid")
    # The unique userName key is the folded name, whatever the case it was sent in.
    zoe = directory.create_user(connection, {"userName": "ZOË.Ωmega@example.com"})
    for found, expected in (("ada@example.com", user), ("zoë.ωmega@example.com", zoe)):
        by_key = DirectoryUser.objects.one(connection.pk, user_name_key=found)
        assert fields_of(by_key) == fields_of(DirectoryUser.objects.get(pk=expected.pk))
        assert fields_of(by_key) == fields_of(
            DirectoryUser.objects.get(connection=connection, user_name_key=found)
        )
    assert DirectoryUser.objects.one(connection.pk, user_name="ADA@example.com") is None


def test_insert_writes_every_column_as_create_does(connection):
    values = {
        "connection_id": connection.pk,
        "method": "PATCH",
        "path": "/scim/v2/x/Users/1",
        "query": "a=1",
        "status": 409,
        "duration_ms": 1.25,
        "scim_type": "uniqueness",
        "detail": "taken",
        "user_agent": "Okta SCIM Client 1.0.0",
        "idp": "okta",
        "token_prefix": "scimp_abc",
        "request_id": "req-1",
        "warning": "flagged",
        "request_body": '{"a": 1}',
        "response_body": '{"b": 2}',
    }
    entry = RequestLog(**values)
    RequestLog.objects.insert(entry)
    twin = RequestLog.objects.create(**{**values, "created_at": entry.created_at})
    stored = RequestLog.objects.exclude(pk=twin.pk).get()
    assert {k: v for k, v in fields_of(stored).items() if k != "id"} == {
        k: v for k, v in fields_of(entry).items() if k != "id"
    }
    assert {k: v for k, v in fields_of(stored).items() if k != "id"} == {
        k: v for k, v in fields_of(twin).items() if k != "id"
    }
    # The id is the database's, and not read back.
    assert entry.pk is None and stored.pk is not None


def test_insert_runs_each_field_s_pre_save(connection, monkeypatch):
    """A field that sets its value when saved (``auto_now_add``) gets it set here too."""
    monkeypatch.setattr(RequestLog._meta.get_field("created_at"), "auto_now_add", True)
    long_ago = timezone.now() - timedelta(days=400)
    before = timezone.now()
    entry = RequestLog(
        connection_id=connection.pk, method="GET", path="/", status=200, duration_ms=1,
        created_at=long_ago,
    )  # fmt: skip
    RequestLog.objects.insert(entry)
    stored = RequestLog.objects.get()
    assert stored.created_at == entry.created_at and stored.created_at >= before


def test_insert_of_a_value_the_database_computes_is_bulk_create_s(connection):
    """An expression (what a ``db_default`` gives a new instance, or a function) is
    compiled by the ORM, as ``bulk_create`` compiles it."""
    entry = RequestLog(
        connection_id=connection.pk, method="GET", path="/", status=200, duration_ms=1,
        detail=Upper(Value("taken")),
    )  # fmt: skip
    RequestLog.objects.insert(entry)
    assert RequestLog.objects.get().detail == "TAKEN"


def membership_directory(connection):
    users = [
        directory.create_user(connection, {"userName": f"u{i}@example.com", "displayName": n})
        for i, n in enumerate(["Ada", "", "Grace"])
    ]
    ids = [str(user.pk) for user in users]
    groups = [
        directory.create_group(
            connection, {"displayName": name}, directory.MemberChange("add", tuple(ids[:2]))
        )
        for name in ("Eng", "Ops")
    ]
    return users, groups


def test_groups_of_and_members_of_are_the_orm_s(connection):
    users, groups = membership_directory(connection)
    user_ids = [user.pk for user in users]
    found = GroupMembership.objects.groups_of(user_ids)
    expected = list(
        GroupMembership.objects.filter(user_id__in=user_ids)
        .values_list("user_id", "group_id", "group__display_name")
        .order_by("group_id")
    )
    assert found == expected and len(found) == 4
    group_ids = [group.pk for group in groups]
    found = GroupMembership.objects.members_of(group_ids)
    expected = list(
        GroupMembership.objects.filter(group_id__in=group_ids)
        .values_list("group_id", "user_id", "display", "user__display_name", "user__user_name")
        .order_by("user_id")
    )
    assert found == expected and len(found) == 4
    assert GroupMembership.objects.groups_of([]) == []


def test_one_with_groups_is_one_and_groups_of(connection):
    users = [directory.create_user(connection, {"userName": f"u{i}@example.com"}) for i in range(3)]
    for name in ("Eng", "Ops", "Admins"):
        directory.create_group(
            connection, {"displayName": name}, directory.MemberChange("add", (str(users[0].pk),))
        )
    directory.create_group(
        connection, {"displayName": "Solo"}, directory.MemberChange("add", (str(users[1].pk),))
    )
    other = directory.create_user(ConnectionFactory(), {"userName": "u0@example.com"})
    for user in (*users, other):
        found = DirectoryUser.objects.one_with_groups(connection.pk, id=str(user.pk))
        expected = DirectoryUser.objects.one(connection.pk, id=str(user.pk))
        if expected is None:  # another connection's user
            assert found is None and user is other
            continue
        assert fields_of(found[0]) == fields_of(expected)
        assert found[1] == list(
            GroupMembership.objects.filter(user=user)
            .values_list("user_id", "group_id", "group__display_name")
            .order_by("group_id")
        )
    assert [len(GroupMembership.objects.groups_of([u.pk])) for u in users] == [3, 1, 0]


def orm_reserve(connection, count):
    """The ORM twin of ``reserve_event_numbers``: two statements."""
    rows = Connection.objects.filter(pk=connection.pk)
    rows.update(last_event_number=F("last_event_number") + count)
    return rows.values_list("last_event_number", flat=True).get()


def test_reserve_event_numbers_is_the_orm_s():
    mine, twin = ConnectionFactory(), ConnectionFactory()
    for count in (1, 3, 1, 10):
        with transaction.atomic():
            reserved = Connection.objects.reserve_event_numbers(mine, count)
            assert reserved == orm_reserve(twin, count)
    assert reserved == 15
    mine.refresh_from_db()
    twin.refresh_from_db()
    assert mine.last_event_number == twin.last_event_number == 15


def test_numbered_events_are_the_orm_twins(django_assert_num_queries):
    """``create_numbered``'s one statement (PostgreSQL) writes what its ORM twin writes."""
    from scim_portal.models.events import _create_numbered_orm, _create_numbered_sql
    from tests.factories import UserFactory

    person = UserFactory()

    def batch(connection, count):
        return [
            ProvisioningEvent(
                connection_id=connection.pk,
                account_id=connection.account_id,
                type="user.created",
                resource_type="User",
                resource_id=f"id-{i}",
                changes={"userName": f"é{i}@example.com", "nested": {"n": [i, None]}},
                actor={"type": "user", "id": person.pk},
                actor_user=person if i % 2 else None,
            )
            for i in range(count)
        ]

    def rows(connection):
        return list(
            ProvisioningEvent.objects.filter(connection=connection)
            .order_by("number")
            .values_list(
                "number", "type", "resource_type", "resource_id", "changes", "actor",
                "actor_user", "account",
            )
        )  # fmt: skip

    mine, twin = ConnectionFactory(account=ConnectionFactory().account), ConnectionFactory()
    twin.account = mine.account
    twin.save(update_fields=["account"])
    for count in (1, 3, 1):
        with transaction.atomic():
            if connection_.vendor == "postgresql":
                with django_assert_num_queries(1):
                    written = _create_numbered_sql(mine, batch(mine, count), "default")
            else:
                written = _create_numbered_orm(mine, batch(mine, count), "default")
            expected = _create_numbered_orm(twin, batch(twin, count), "default")
        assert [e.number for e in written] == [e.number for e in expected]
        assert all(e.pk is not None and not e._state.adding for e in written)
        assert [ProvisioningEvent.objects.get(pk=e.pk).number for e in written] == [
            e.number for e in written
        ]
    assert rows(mine) == rows(twin) and [r[0] for r in rows(mine)] == [1, 2, 3, 4, 5]
    mine.refresh_from_db()
    assert mine.last_event_number == 5
    # Through the manager: the statement of this database.
    with transaction.atomic():
        (event,) = ProvisioningEvent.objects.create_numbered(mine, batch(mine, 1))
    assert event.number == 6


@pytest.mark.skipif(connection_.vendor != "postgresql", reason="SQLite keeps any length")
def test_a_numbered_event_too_long_for_its_column_is_refused_as_by_the_orm():
    """The one statement must not cut a value the ORM's insert refuses (an explicit
    CAST to varchar(n) truncates where an INSERT raises)."""
    from scim_portal.models.events import _create_numbered_orm, _create_numbered_sql

    connection = ConnectionFactory()

    def event():
        return ProvisioningEvent(
            connection_id=connection.pk, account_id=connection.account_id, type="user.created",
            resource_type="User", resource_id="x" * 65, actor={"type": "system"},
        )  # fmt: skip

    for create in (_create_numbered_orm, _create_numbered_sql):
        with pytest.raises(DataError), transaction.atomic():
            create(connection, [event()], "default")
    assert not ProvisioningEvent.objects.filter(connection=connection).exists()


def test_numbering_events_of_a_deleted_connection_raises_does_not_exist_in_both():
    from scim_portal.models.events import _create_numbered_orm, _create_numbered_sql

    gone = ConnectionFactory()
    Connection.objects.filter(pk=gone.pk).delete()
    twins = [_create_numbered_orm]
    if connection_.vendor == "postgresql":
        twins.append(_create_numbered_sql)
    for create in twins:
        event = ProvisioningEvent(
            connection_id=gone.pk, account_id=gone.account_id, type="user.created",
            resource_type="User", actor={"type": "system"},
        )  # fmt: skip
        with pytest.raises(Connection.DoesNotExist), transaction.atomic():
            create(gone, [event], "default")
    assert not ProvisioningEvent.objects.filter(connection_id=gone.pk).exists()


class Router:
    """Sends reads or writes of ``model`` to ``alias``; records what it was asked."""

    def __init__(self, model, alias, *, writes=False):
        self.model, self.alias, self.writes = model, alias, writes
        self.asked = []

    def _route(self, kind, model, hints):
        self.asked.append((kind, model))
        return self.alias if model is self.model and (kind == "write") == self.writes else None

    def db_for_read(self, model, **hints):
        return self._route("read", model, hints)

    def db_for_write(self, model, **hints):
        return self._route("write", model, hints)


@pytest.fixture
def statements(issued_connection):
    connection, issued = issued_connection
    user = directory.create_user(connection, {"userName": "ada@example.com"})
    group = directory.create_group(
        connection, {"displayName": "Eng"}, directory.MemberChange("add", (str(user.pk),))
    )
    log = {"connection_id": connection.pk, "method": "GET", "path": "/", "status": 200}
    tokens, users, groups = Credential.objects, DirectoryUser.objects, DirectoryGroup.objects
    memberships, logs = GroupMembership.objects, RequestLog.objects
    basic = issue_credential(connection, CredentialKind.BASIC).raw
    access = new_access_token(issue_credential(connection, CredentialKind.CLIENT_SECRET).credential)
    read, write = False, True
    return {
        "token": (Credential, read, lambda: tokens.by_value(issued.raw)),
        "basic": (Credential, read, lambda: tokens.by_secret(CredentialKind.BASIC, basic)),
        "access_token": (AccessToken, read, lambda: AccessToken.objects.by_value(access)),
        "one": (DirectoryGroup, read, lambda: groups.one(connection.pk, id=group.pk)),
        "one_with_groups": (
            DirectoryUser,
            read,
            lambda: users.one_with_groups(connection.pk, id=user.pk),
        ),
        "groups_of": (GroupMembership, read, lambda: memberships.groups_of([user.pk])),
        "members_of": (GroupMembership, read, lambda: memberships.members_of([group.pk])),
        "insert": (RequestLog, write, lambda: logs.insert(RequestLog(**log, duration_ms=1))),
        "reserve_event_numbers": (
            Connection,
            write,
            lambda: Connection.objects.reserve_event_numbers(connection, 1),
        ),
        "create_numbered": (ProvisioningEvent, write, lambda: numbered_event(connection)),
    }


def numbered_event(connection):
    event = ProvisioningEvent(
        connection_id=connection.pk, account_id=connection.account_id, type="user.created",
        resource_type="User", actor={"type": "system"},
    )  # fmt: skip
    return ProvisioningEvent.objects.create_numbered(connection, [event])


@pytest.mark.parametrize(
    "name",
    ["token", "basic", "access_token", "one", "one_with_groups", "groups_of", "members_of",
     "insert", "reserve_event_numbers", "create_numbered"],
)  # fmt: skip
def test_each_statement_goes_where_the_router_says(statements, name):
    model, writes, run = statements[name]
    # Routed to a database that is not configured: the statement fails there.
    elsewhere = Router(model, "elsewhere", writes=writes)
    with override_settings(DATABASE_ROUTERS=[elsewhere]), pytest.raises(ConnectionDoesNotExist):
        run()
    assert ("write" if writes else "read", model) in elsewhere.asked
    # Routed to the default database: it runs, after asking the router.
    here = Router(model, "default", writes=writes)
    with override_settings(DATABASE_ROUTERS=[here]):
        run()
    assert ("write" if writes else "read", model) in here.asked


def test_a_filtered_token_queryset_keeps_its_filter(issued_connection):
    connection, issued = issued_connection
    other = ConnectionFactory()
    assert Credential.objects.filter(connection=other).by_value(issued.raw) is None
    mine = Credential.objects.filter(connection=connection).by_value(issued.raw)
    assert mine is not None and mine.connection == connection


@pytest.fixture
def database_in_tokyo():
    """SQLite storing datetimes in a database time zone (``DATABASES[...]["TIME_ZONE"]``),
    which Django's converters read them in. PostgreSQL stores the zone with each value
    (Django refuses the setting there): the tests compare with the ORM as configured."""
    from django.db import connections

    wrapper = connections["default"]
    if wrapper.vendor != "sqlite":
        yield
        return
    old = wrapper.settings_dict.get("TIME_ZONE")
    wrapper.settings_dict["TIME_ZONE"] = "Asia/Tokyo"
    for name in ("timezone", "timezone_name"):
        wrapper.__dict__.pop(name, None)
    yield
    wrapper.settings_dict["TIME_ZONE"] = old
    for name in ("timezone", "timezone_name"):
        wrapper.__dict__.pop(name, None)


def test_one_reads_datetimes_as_the_orm_in_a_database_time_zone(connection, database_in_tokyo):
    user = directory.create_user(connection, {"userName": "tz@example.com"})
    orm = DirectoryUser.objects.get(pk=user.pk)
    assert orm.created == user.created
    assert fields_of(DirectoryUser.objects.one(connection.pk, id=user.pk)) == fields_of(orm)


def test_the_token_lookup_reads_datetimes_as_the_orm_in_a_database_time_zone(
    issued_connection, database_in_tokyo
):
    _connection, issued = issued_connection
    stamp = timezone.now().replace(microsecond=0)
    Credential.objects.filter(pk=issued.token.pk).update(
        last_used_at=stamp, expires_at=stamp + timedelta(days=1)
    )
    found = Credential.objects.by_value(issued.raw)
    orm = Credential.objects.select_related("connection").get(pk=issued.token.pk)
    assert orm.last_used_at == stamp
    assert fields_of(found) == fields_of(orm)
    assert fields_of(found.connection) == fields_of(orm.connection)


def test_the_access_token_lookup_reads_datetimes_as_the_orm_in_a_database_time_zone(
    database_in_tokyo,
):
    """Expiry compared in the database's time zone: a token with an hour left is live, one
    an hour past is not (read as UTC, Tokyo's +9 hours would swap them)."""
    stamp = timezone.now().replace(microsecond=0)
    credential = client_secret(last_used_at=stamp, expires_at=stamp + timedelta(hours=2))
    live = new_access_token(credential, expires_in=timedelta(hours=1))
    found = assert_access_token_is_the_orm_s(live)
    assert found is not None and found.credential.last_used_at == stamp
    assert found.credential.expires_at == stamp + timedelta(hours=2)
    assert (
        assert_access_token_is_the_orm_s(new_access_token(credential, -timedelta(hours=1))) is None
    )
    gone = client_secret(expires_at=stamp - timedelta(hours=1))
    assert assert_access_token_is_the_orm_s(new_access_token(gone)) is None
