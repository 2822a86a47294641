"""Upkeep of the OAuth server: pruning dead tokens and codes, and the system check that
keeps development-only federation settings out of production."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from scim_portal import _secrets
from scim_portal.models import AccessToken, AuthorizationCode, OAuthApplication
from scim_portal.provisioning import create_connection, issue_credential, prune
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def _token(credential, name, *, expires, refresh_expires=None, revoked=False):
    now = timezone.now()
    return AccessToken.objects.create(
        credential=credential,
        digest=_secrets.digest(name),
        prefix=name[:10],
        expires_at=now + expires,
        refresh_digest=_secrets.digest("r" + name) if refresh_expires is not None else None,
        refresh_expires_at=now + refresh_expires if refresh_expires is not None else None,
        revoked_at=now if revoked else None,
    )


def test_prune_deletes_access_tokens_and_codes_that_open_nothing():
    connection, _ = create_connection(account=OrganizationFactory(), name="E", provider="entra")
    secret = issue_credential(connection, "client_secret").credential
    hour = timedelta(hours=1)
    live = _token(secret, "live", expires=hour)
    refreshable = _token(secret, "refreshable", expires=-hour, refresh_expires=hour)
    _token(secret, "expired", expires=-hour)
    _token(secret, "refresh-expired", expires=-hour, refresh_expires=-hour)
    _token(secret, "revoked", expires=hour, revoked=True)
    application = OAuthApplication(name="Okta", redirect_uris="https://okta.example/cb")
    application.set_secret()
    application.save()

    def code(name, expires):
        return AuthorizationCode.objects.create(
            digest=_secrets.digest(name),
            application=application,
            connection=connection,
            user=UserFactory(),
            expires_at=timezone.now() + expires,
        )

    recent = code("recent", -timedelta(minutes=5))  # kept: still catches a replay
    code("old", -timedelta(days=2))
    prune()
    assert set(AccessToken.objects.all()) == {live, refreshable}
    assert list(AuthorizationCode.objects.all()) == [recent]


def test_loosened_federation_fetches_are_warned_about_outside_debug(settings, capsys):
    settings.DEBUG = False
    call_command("check")
    assert "W007" not in capsys.readouterr().err
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "FEDERATION_ALLOW_PRIVATE_NETWORKS": True}
    call_command("check")
    assert "scim_portal.W007" in capsys.readouterr().err
    settings.DEBUG = True
    call_command("check")
    assert "W007" not in capsys.readouterr().err


def test_only_a_federated_issuer_takes_issuer_fields():
    connection, _ = create_connection(account=OrganizationFactory(), name="E", provider="entra")
    with pytest.raises(ValueError, match="Only a federated issuer takes issuer, subject"):
        issue_credential(connection, "client_secret", issuer="https://login.example", subject="x")
    assert connection.credentials.count() == 1  # the initial token only
