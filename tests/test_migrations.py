"""The data migration that gives links made before ownership a safe meaning."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("scim_portal", "0006_tenant_safety")]
AFTER = [("scim_portal", "0008_one_manager_per_host_user")]


@pytest.mark.django_db(transaction=True)
def test_existing_links_are_migrated_conservatively():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    User = apps.get_model("auth", "User")
    Organization = apps.get_model("testapp", "Organization")
    Connection = apps.get_model("scim_portal", "Connection")
    DirectoryUser = apps.get_model("scim_portal", "DirectoryUser")
    now = timezone.now()
    connection_b = Connection.objects.create(
        account=Organization.objects.create(handle="b", name="B"), name="B", provider="okta"
    )

    def linked(name, host):
        user = DirectoryUser.objects.create(
            connection=connection_b, user_name=name, host_user=host, created=now
        )
        return user.pk

    created = User.objects.create(username="new", password="!unusable", date_joined=now)
    sso_only = User.objects.create(
        username="sso", password="!unusable", date_joined=now - timedelta(days=90)
    )
    with_password = User.objects.create(username="pw", password="md5$x", date_joined=now)
    root = User.objects.create(username="root", password="!x", is_superuser=True, date_joined=now)
    ids = {
        "created": linked("new", created),
        "sso_only": linked("sso", sso_only),  # linked by email long after joining
        "with_password": linked("pw", with_password),
        "root": linked("root", root),
        "duplicate": linked("pw-again", with_password),  # a second link in one connection
    }
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    DirectoryUser = executor.loader.project_state(AFTER).apps.get_model(
        "scim_portal", "DirectoryUser"
    )
    rows = {key: DirectoryUser.objects.get(pk=pk) for key, pk in ids.items()}
    assert rows["created"].host_link == "managed"
    assert rows["sso_only"].host_link == "member"
    assert rows["with_password"].host_link == "member"
    assert (rows["root"].host_link, rows["root"].host_user_id) == ("blocked", None)
    assert (rows["duplicate"].host_link, rows["duplicate"].host_user_id) == ("", None)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


UNFOLDED = [("scim_portal", "0009_link_policy_labels")]
FOLDED = [("scim_portal", "0010_unicode_folded_keys")]


def _directory_at(executor, target):
    executor.migrate(target)
    apps = executor.loader.project_state(target).apps
    Organization = apps.get_model("testapp", "Organization")
    Connection = apps.get_model("scim_portal", "Connection")
    connection_b = Connection.objects.create(
        account=Organization.objects.create(handle="b", name="B"), name="B", provider="okta"
    )
    return apps, connection_b


@pytest.mark.django_db(transaction=True)
def test_existing_names_and_values_get_their_folded_keys():
    executor = MigrationExecutor(connection)
    apps, connection_b = _directory_at(executor, UNFOLDED)
    DirectoryUser = apps.get_model("scim_portal", "DirectoryUser")
    user = DirectoryUser.objects.create(
        connection=connection_b, user_name="ZOË.Ωmega@example.com", display_name="Émile"
    )
    value = apps.get_model("scim_portal", "DirectoryUserValue").objects.create(
        user=user,
        connection=connection_b,
        attribute="emails",
        position=0,
        value_key="straße@example.com",
        item={"value": "Straße@example.com"},
    )
    group = apps.get_model("scim_portal", "DirectoryGroup").objects.create(
        connection=connection_b, display_name="ÜNITS"
    )
    executor = MigrationExecutor(connection)
    executor.migrate(FOLDED)
    apps = executor.loader.project_state(FOLDED).apps
    user = apps.get_model("scim_portal", "DirectoryUser").objects.get(pk=user.pk)
    assert (user.user_name_key, user.display_name_key) == ("zoë.ωmega@example.com", "émile")
    value = apps.get_model("scim_portal", "DirectoryUserValue").objects.get(pk=value.pk)
    assert value.value_key == "strasse@example.com"
    group = apps.get_model("scim_portal", "DirectoryGroup").objects.get(pk=group.pk)
    assert group.display_name_key == "ünits"
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_names_equal_only_by_unicode_folding_stop_the_migration_with_what_to_do():
    executor = MigrationExecutor(connection)
    apps, connection_b = _directory_at(executor, UNFOLDED)
    DirectoryUser = apps.get_model("scim_portal", "DirectoryUser")
    for name in ("straße@example.com", "STRASSE@example.com"):  # LOWER() tells them apart
        DirectoryUser.objects.create(connection=connection_b, user_name=name)
    executor = MigrationExecutor(connection)
    with pytest.raises(RuntimeError, match=r"STRASSE@example\.com.*Delete or rename"):
        executor.migrate(FOLDED)
    DirectoryUser.objects.filter(user_name="STRASSE@example.com").delete()
    executor = MigrationExecutor(connection)
    executor.migrate(FOLDED)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
