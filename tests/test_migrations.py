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
