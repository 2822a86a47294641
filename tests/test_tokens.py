from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from scim_portal.models import Credential
from scim_portal.models.credentials import TOKEN_PREFIX
from scim_portal.provisioning import issue_token, revoke_credential

pytestmark = pytest.mark.django_db


def all_stored_text() -> str:
    """Every value of every table of the app, as one string."""
    chunks = []
    with db_connection.cursor() as cursor:
        for table in db_connection.introspection.table_names():
            if table.startswith("scim_portal_"):
                cursor.execute(f"SELECT * FROM {db_connection.ops.quote_name(table)}")  # noqa: S608
                chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_issued_token_is_recognisable_and_high_entropy(issued_connection):
    _connection, issued = issued_connection
    assert issued.raw.startswith(TOKEN_PREFIX)
    assert len(issued.raw) - len(TOKEN_PREFIX) >= 43  # 256 bits, base64url
    assert issued.token.prefix == issued.raw[: len(issued.token.prefix)]


def test_raw_token_is_nowhere_in_the_database(issued_connection):
    _connection, issued = issued_connection
    stored = all_stored_text()
    assert issued.raw not in stored
    assert issued.raw[len(issued.token.prefix) :] not in stored
    assert Credential.digest_of(issued.raw) in stored


def test_by_value_finds_the_token_and_its_connection(issued_connection, django_assert_num_queries):
    connection, issued = issued_connection
    with django_assert_num_queries(1):
        found = Credential.objects.by_value(issued.raw)
        assert found.connection == connection
    assert found.pk == issued.token.pk


@pytest.mark.parametrize(
    "raw",
    ["", "scimp_", "not-a-token", "scimp_" + "x" * 43, "scimp_" + "y" * 500],
)
def test_by_value_rejects_unknown_values(issued_connection, raw):
    assert Credential.objects.by_value(raw) is None


def test_a_token_differing_in_one_character_is_rejected(issued_connection):
    _connection, issued = issued_connection
    last = issued.raw[-1]
    tampered = issued.raw[:-1] + ("A" if last != "A" else "B")
    assert Credential.objects.by_value(tampered) is None


def test_rotation_keeps_old_token_until_revoked(issued_connection):
    connection, first = issued_connection
    second = issue_token(connection, label="rotated")
    assert Credential.objects.by_value(first.raw) is not None
    assert Credential.objects.by_value(second.raw) is not None

    revoke_credential(first.token)
    assert Credential.objects.by_value(first.raw) is None
    assert Credential.objects.by_value(second.raw).pk == second.token.pk
    first.token.refresh_from_db()
    assert first.token.is_revoked and not first.token.is_usable


def test_revoking_twice_keeps_the_first_revocation_time(issued_connection):
    _connection, issued = issued_connection
    revoked_at = revoke_credential(issued.token).revoked_at
    assert revoke_credential(issued.token).revoked_at == revoked_at


def test_expired_token_is_not_usable(issued_connection):
    connection, _issued = issued_connection
    soon = issue_token(connection, expires_at=timezone.now() + timedelta(hours=1))
    assert Credential.objects.by_value(soon.raw) is not None
    Credential.objects.filter(pk=soon.token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert Credential.objects.by_value(soon.raw) is None


def test_expiry_in_the_past_is_refused(issued_connection):
    connection, _issued = issued_connection
    with pytest.raises(ValueError, match="future"):
        issue_token(connection, expires_at=timezone.now() - timedelta(minutes=1))


def test_tokens_of_two_connections_are_distinct(organization):
    from scim_portal.provisioning import create_connection

    _a, token_a = create_connection(account=organization, name="A", provider="okta")
    _b, token_b = create_connection(account=organization, name="B", provider="entra")
    assert token_a.raw != token_b.raw
    assert Credential.objects.by_value(token_a.raw).connection.name == "A"
    assert Credential.objects.by_value(token_b.raw).connection.name == "B"
