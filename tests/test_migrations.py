"""The migrations build exactly the schema the models describe, and upgrading keeps
existing tokens working."""

import pytest
from django.apps import apps as installed_apps
from django.db import connection
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState
from django.test.utils import CaptureQueriesContext

APP = "scim_portal"
LATEST = "0008_chart_and_dashboard_indexes"


def test_migrations_depend_on_nothing_of_the_test_host():
    """A host's project has none of tests/ (makemigrations under tests.settings writes the
    test app's migration in by name): only the app's own, and swappable models."""
    loader = MigrationLoader(None)
    for (app, name), migration in loader.disk_migrations.items():
        if app == APP:
            for dependency in migration.dependencies:
                assert dependency[0] == APP or hasattr(dependency, "setting"), (name, dependency)


def _migration_names():
    loader = MigrationLoader(None)
    return sorted(name for app, name in loader.disk_migrations if app == APP)


def test_the_migrations_are_initial_credentials_deleting_since_webhooks_safety_legacy_ids_ip():
    assert _migration_names() == [
        "0001_initial", "0002_credentials", "0003_connection_deleting_since", "0004_webhooks",
        "0005_safe_deprovisioning", "0006_legacy_ids", "0007_requestlog_source_ip", LATEST,
    ]  # fmt: skip


def test_the_migration_state_is_the_model_state():
    loader = MigrationLoader(None)
    changes = MigrationAutodetector(
        loader.project_state(), ProjectState.from_apps(installed_apps)
    ).changes(graph=loader.graph)
    assert APP not in changes


def _schema():
    """Per table of the app: its columns and the names of its constraints and indexes."""
    with connection.cursor() as cursor:
        tables = {
            table.name
            for table in connection.introspection.get_table_list(cursor)
            if table.name.startswith(f"{APP}_")
        }
        return {
            table: (
                sorted(
                    c.name for c in connection.introspection.get_table_description(cursor, table)
                ),
                sorted(
                    name
                    for name, details in connection.introspection.get_constraints(
                        cursor, table
                    ).items()
                    if not details["primary_key"]
                ),
            )
            for table in tables
        }


def _expected_schema():
    expected = {}
    for model in installed_apps.get_app_config(APP).get_models():
        meta = model._meta
        columns = sorted(field.column for field in meta.local_concrete_fields)
        named = sorted([index.name for index in meta.indexes] + [c.name for c in meta.constraints])
        expected[meta.db_table] = (columns, named)
    return expected


@pytest.mark.django_db(transaction=True)
def test_a_fresh_migrate_creates_every_table_column_constraint_and_index():
    executor = MigrationExecutor(connection)
    executor.migrate([(APP, None)])
    with connection.cursor() as cursor:
        left = [t.name for t in connection.introspection.get_table_list(cursor)]
    assert not [table for table in left if table.startswith(f"{APP}_")]
    executor = MigrationExecutor(connection)
    executor.migrate([(APP, LATEST)])
    schema, expected = _schema(), _expected_schema()
    assert schema.keys() == expected.keys()
    for table, (columns, named) in expected.items():
        assert schema[table][0] == columns, table
        assert set(named) <= set(schema[table][1]), table


@pytest.mark.django_db(transaction=True)
def test_a_bearer_token_of_0001_still_opens_its_connection_after_0002(client):
    """Upgrading keeps every existing token working: its row becomes a bearer credential."""
    from scim_portal import _secrets
    from scim_portal.models import Credential
    from scim_portal.models.credentials import TOKEN_PREFIX
    from tests.factories import OrganizationFactory

    account = OrganizationFactory()
    executor = MigrationExecutor(connection)
    executor.migrate([(APP, "0001_initial")])
    old = executor.loader.project_state([(APP, "0001_initial")]).apps
    old_connection = old.get_model(APP, "Connection").objects.create(
        account_id=account.pk, name="Okta", provider="okta"
    )
    raw = _secrets.generate(TOKEN_PREFIX)
    old.get_model(APP, "ConnectionToken").objects.create(
        connection=old_connection,
        digest=_secrets.digest(raw),
        prefix=_secrets.display_prefix(raw, TOKEN_PREFIX),
        label="Initial token",
    )

    executor = MigrationExecutor(connection)
    executor.migrate([(APP, LATEST)])

    credential = Credential.objects.by_value(raw)
    assert credential is not None
    assert (credential.kind, credential.label, credential.connection_id) == (
        "bearer",
        "Initial token",
        old_connection.pk,
    )
    response = client.get(f"/scim/v2/{old_connection.pk}/Users", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json()["totalResults"] == 0


def _sql_of(target):
    with CaptureQueriesContext(connection) as captured:
        MigrationExecutor(connection).migrate([(APP, target)])
    return [query["sql"] for query in captured.captured_queries if " INDEX " in query["sql"]]


def _validity(*names):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = ANY(%s)",
            [list(names)],
        )
        return dict(cursor.fetchall())


INDEXES = ("scim_event_conn_time_idx", "scim_log_time_idx")


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_0008_builds_and_drops_its_indexes_concurrently():
    """A big request log keeps taking the IdPs' writes while 0008 indexes it: the indexes
    are built CONCURRENTLY (outside a transaction), and dropped the same way back."""
    MigrationExecutor(connection).migrate([(APP, "0007_requestlog_source_ip")])
    built = _sql_of(LATEST)
    assert [sql.split(" ON ")[0] for sql in built] == [
        f'CREATE INDEX CONCURRENTLY "{name}"' for name in INDEXES
    ]
    assert _validity(*INDEXES) == dict.fromkeys(INDEXES, True)
    dropped = _sql_of("0007_requestlog_source_ip")
    assert len(dropped) == 2 and all("DROP INDEX CONCURRENTLY" in sql for sql in dropped)
    assert _validity(*INDEXES) == {}
    MigrationExecutor(connection).migrate([(APP, LATEST)])


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_an_interrupted_0008_runs_again():
    """The first index was built, the second left invalid (a timeout mid-build): run
    again, 0008 keeps the first and rebuilds the second."""
    MigrationExecutor(connection).migrate([(APP, "0007_requestlog_source_ip")])
    with connection.cursor() as cursor:
        cursor.execute(
            'CREATE INDEX "scim_event_conn_time_idx" ON "scim_portal_provisioningevent" '
            '("connection_id", "created_at")'
        )
        cursor.execute(
            'CREATE INDEX "scim_log_time_idx" ON "scim_portal_requestlog" ("created_at")'
        )
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = "
            "'scim_log_time_idx'::regclass"
        )
    assert _validity(*INDEXES) == {INDEXES[0]: True, INDEXES[1]: False}

    rerun = _sql_of(LATEST)

    assert [sql.split(" ON ")[0] for sql in rerun] == [
        'DROP INDEX CONCURRENTLY IF EXISTS "scim_log_time_idx"',
        'CREATE INDEX CONCURRENTLY "scim_log_time_idx"',
    ]
    assert _validity(*INDEXES) == dict.fromkeys(INDEXES, True)
