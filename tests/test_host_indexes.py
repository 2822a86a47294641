"""The host user table's lookup indexes (scim_portal.host_indexes)."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from scim_portal.host_indexes import user_lookup_indexes
from scim_portal.provisioning.ownership import email_taken, users_with_email

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the indexes exist on PostgreSQL only"
)


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_indexes_are_named_for_the_user_tables_columns():
    assert user_lookup_indexes() == [
        ("auth_user_email_upper_scim", "auth_user", "email"),
        ("auth_user_username_upper_scim", "auth_user", "username"),
    ]


@postgres_only
def test_the_adapters_case_insensitive_lookups_use_them():
    """Without them each SCIM create scans the whole user table twice."""
    model = get_user_model()
    model.objects.create(username="Ada@Example.com", email="Ada@Example.com")
    by_email = model._default_manager.filter(email__iexact="ada@example.com")
    by_username = model._default_manager.filter(username__iexact="ADA@example.com")
    assert "auth_user_email_upper_scim" in plan(by_email)
    assert "auth_user_username_upper_scim" in plan(by_username)
    # And they answer what the adapter asks, whatever the case.
    assert [u.username for u in users_with_email("ADA@EXAMPLE.COM")] == ["Ada@Example.com"]
    assert email_taken("ada@example.com")


def test_long_table_names_give_two_distinct_names_within_postgresqls_limit(monkeypatch):
    """Cut to 50 characters, both names were the table's: the second CREATE INDEX IF NOT
    EXISTS then did nothing, and one lookup stayed unindexed."""
    monkeypatch.setattr(get_user_model()._meta, "db_table", "accounts_" + "x" * 50 + "_person")
    (email, email_table, _), (username, _, _) = user_lookup_indexes()
    assert email != username
    assert len(email.encode()) <= 63 and len(username.encode()) <= 63
    assert email_table == "accounts_" + "x" * 50 + "_person"
