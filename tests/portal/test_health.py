"""A connection's status, over every kind of credential it holds."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.formats import date_format

from scim_portal.health import health, with_last_status
from scim_portal.models import Connection, Credential, OAuthApplication, RequestLog
from scim_portal.provisioning import create_connection, issue_credential, revoke_credential
from scim_portal.provisioning.credentials import record_authorization
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def connection_with(kind, **fields):
    """A connection provisioning a minute ago, whose only credential is of ``kind``."""
    connection, _ = create_connection(
        account=OrganizationFactory(), name="Entra", provider="entra", credential_kind=kind,
        **fields,
    )  # fmt: skip
    Connection.objects.filter(pk=connection.pk).update(
        last_request_at=timezone.now() - timedelta(minutes=1)
    )
    return Connection.objects.get(pk=connection.pk)


FEDERATED = {"issuer": "https://login.example/t/v2.0", "subject": "s", "audience": "a"}


@pytest.mark.parametrize(("kind", "fields"), [
    ("bearer", {}), ("basic", {}), ("client_secret", {}), ("federated", FEDERATED),
])  # fmt: skip
def test_every_kind_of_credential_counts_as_usable_until_revoked(kind, fields):
    connection = connection_with(kind, **fields)
    assert health(connection).key == "healthy"
    revoke_credential(Credential.objects.get(connection=connection))
    state = health(connection)
    assert (state.key, state.label) == ("failing", "No usable credential")
    assert state.explanation == "Every credential is revoked or expired: issue a new one."


def test_an_expiring_client_secret_counts_like_an_expiring_token():
    connection = connection_with("client_secret")
    Credential.objects.filter(connection=connection).update(
        expires_at=timezone.now() + timedelta(days=3)
    )
    later = timezone.now() + timedelta(days=10)
    issue_credential(connection, "client_secret", expires_at=later)
    state = health(connection)
    assert (state.key, state.label) == ("expiring", "Credential expiring")
    assert f"Provisioning stops on {date_format(timezone.localtime(later))}" in state.explanation


def test_a_credential_without_expiry_keeps_the_connection_healthy():
    connection = connection_with("client_secret", expires_at=timezone.now() + timedelta(days=3))
    assert health(connection).key == "expiring"
    issue_credential(connection, "federated", **FEDERATED)
    assert health(connection).key == "healthy"


def test_an_expired_secret_beside_a_usable_one_is_no_failure():
    connection = connection_with("client_secret")
    Credential.objects.filter(connection=connection).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    assert health(connection).label == "No usable credential"
    issue_credential(connection, "basic")
    assert health(connection).key == "healthy"


def test_the_connection_list_shows_the_status(setup):
    client = Client()
    client.force_login(setup["people"]["admin"])
    revoke_credential(setup["token"])
    page = client.get("/provisioning/acme/").content.decode()
    assert "No usable credential" in page


def test_a_connection_awaiting_its_authorisation_waits_rather_than_fails():
    connection, issued = create_connection(
        account=OrganizationFactory(), name="Okta", provider="okta", credential_kind=None
    )
    assert issued is None
    state = health(connection)
    assert (state.key, state.label) == ("waiting", "Waiting for authorisation")
    assert "authorise the vendor's OAuth application" in state.explanation
    # Refused requests before the authorisation do not make it fail either.
    RequestLog.objects.create(
        connection=connection, method="GET", path="/scim/v2/x/Users", status=401, duration_ms=1
    )
    annotated = with_last_status(Connection.objects.filter(pk=connection.pk)).get()
    assert health(annotated).label == "Waiting for authorisation"

    application = OAuthApplication(name="Acme for Okta", redirect_uris="https://o.example/cb")
    application.set_secret()
    application.save()
    authorisation = record_authorization(connection, application, UserFactory())
    assert health(connection).label == "Waiting for the first request"
    revoke_credential(authorisation)
    state = health(connection)
    assert (state.key, state.label) == ("failing", "No usable credential")
