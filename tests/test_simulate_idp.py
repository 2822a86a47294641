"""``simulate_idp --auth``: each way the simulated identity provider authenticates.

In process (tests.settings): each method of ``example_project/accounts/idp_auth.py``
against the real token endpoint and SCIM URLs. As `make run` runs it (slow: the example
project in a subprocess): the whole command with each method.
"""

import os
import re
import socket
import subprocess
import sys
import urllib.request

import jwt
import pytest
from django.test import Client

from example_project.accounts import idp_auth
from scim_portal.models import RequestLog
from scim_portal.provisioning import create_connection, revoke_credential
from tests.factories import OrganizationFactory
from tests.test_example_project import ROOT

FEDERATION_FOR_TESTS = {"FEDERATION_ALLOW_HTTP": True, "FEDERATION_ALLOW_PRIVATE_NETWORKS": True}


@pytest.fixture
def federation(settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, **FEDERATION_FOR_TESTS}


def started(method):
    """``method`` started on a new Entra connection, as simulate_idp starts it."""
    connection, issued = create_connection(
        account=OrganizationFactory(), name="Entra", provider="entra",
        credential_kind=method.kind, **method.credential_fields(),
    )  # fmt: skip
    method.start(connection, issued, Client(HTTP_HOST="127.0.0.1"))
    return connection


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["bearer", "basic", "client-credentials", "jwt"])
def test_each_method_opens_scim_with_its_credential(name, federation):
    method = idp_auth.METHODS[name]()
    try:
        connection = started(method)
        users = method.client.get(
            f"{connection.scim_path()}/Users", HTTP_AUTHORIZATION=method.header()
        )
        assert users.status_code == 200, users.content
        row = RequestLog.objects.filter(connection=connection, path__endswith="/Users").get()
        assert row.credential_kind == method.kind and row.status == 200
        assert method.describe()
    finally:
        method.close()


@pytest.mark.django_db
def test_an_access_token_is_replaced_before_it_expires(monkeypatch):
    method = idp_auth.ClientCredentialsAuth()
    connection = started(method)
    first = method.header()
    assert method.header() == first and method.tokens_obtained == 1
    later = idp_auth.time.monotonic() + 3600 - idp_auth.EXPIRY_MARGIN
    monkeypatch.setattr(idp_auth.time, "monotonic", lambda: later)
    second = method.header()
    assert second != first and method.tokens_obtained == 2
    users = method.client.get(f"{connection.scim_path()}/Users", HTTP_AUTHORIZATION=second)
    assert users.status_code == 200


@pytest.mark.django_db
def test_a_refused_token_request_says_why(monkeypatch):
    method = idp_auth.ClientCredentialsAuth()
    started(method)
    method.header()
    revoke_credential(method.issued.credential)
    monkeypatch.setattr(idp_auth.time, "monotonic", lambda: 10**9)
    with pytest.raises(idp_auth.AuthFailed, match="401: invalid_client"):
        method.header()


@pytest.mark.django_db
def test_jwt_assertions_are_rfc_7523_and_the_key_server_stops(federation):
    method = idp_auth.JwtAssertionAuth()
    try:
        connection = started(method)
        jwks = urllib.request.urlopen(f"{method.issuer}/jwks.json", timeout=5).read()
        key = jwt.PyJWKSet.from_json(jwks.decode()).keys[0]
        one, two = method.assertion(), method.assertion()
        claims = jwt.decode(
            one, key.key, algorithms=["RS256"], audience=idp_auth.token_endpoint_url()
        )
        assert claims["iss"] == method.issuer and claims["sub"] == "simulate-idp"
        assert claims["aud"] == "https://saas.example.test/scim/oauth/token"
        assert claims["exp"] - claims["iat"] == 300
        assert claims["jti"] != jwt.decode(two, options={"verify_signature": False})["jti"]
        assert jwt.get_unverified_header(one)["kid"] == key.key_id
        credential = connection.credentials.get()
        assert (credential.issuer, credential.jwks_url) == (
            method.issuer, f"{method.issuer}/jwks.json",
        )  # fmt: skip
    finally:
        method.close()
    port = int(method.issuer.rsplit(":", 1)[1])
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


@pytest.mark.django_db
def test_jwt_is_refused_when_federation_may_not_fetch_from_loopback():
    method = idp_auth.JwtAssertionAuth()
    try:
        with pytest.raises(ValueError, match="https://"):
            started(method)
    finally:
        method.close()


# The command itself, as `make run` runs it


@pytest.fixture(scope="module")
def site_env(tmp_path_factory):
    skipped = ("PG", "DATABASE_ENGINE", "TEST_DATABASE", "DJANGO_SETTINGS", "SCIM_PORTAL_DEV")
    env = {key: value for key, value in os.environ.items() if not key.startswith(skipped)}
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        SQLITE_PATH=str(tmp_path_factory.mktemp("simulate") / "demo.sqlite3"),
        PYTHONPATH=str(ROOT),
    )
    for command in (["migrate", "--no-input", "-v0"], ["seed_demo"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=120)  # fmt: skip
    return env


def simulate(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", "simulate_idp", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    ("auth", "provider", "described"),
    [
        ("bearer", "okta", r"bearer token scimp_"),
        ("basic", "okta", r"HTTP Basic as scimu_"),
        ("client-credentials", "entra", r"OAuth client credentials, client id scimc_\w+ \(1 "),
        ("jwt", "entra", r"JWT client assertions from http://127\.0\.0\.1:\d+ \(1 "),
    ],
)
def test_simulate_idp_provisions_with_each_method(site_env, auth, provider, described):
    env = {**site_env, "SCIM_PORTAL_DEV_FEDERATION": "1"} if auth == "jwt" else site_env
    result = simulate(env, "--provider", provider, "--auth", auth)
    assert result.returncode == 0, result.stderr
    table = result.stdout
    assert re.search(rf"Authenticated with {described}", table), table
    assert re.search(rf"grace@{provider}\.acme\.example\.com\s+admin\s+active", table)
    assert re.search(rf"edsger@{provider}\.acme\.example\.com\s+member\s+deactivated", table)


@pytest.mark.slow
def test_simulate_idp_mass_unassign_shows_the_brake(site_env):
    result = simulate(site_env, "--provider", "entra", "--mass-unassign")
    assert result.returncode == 0, result.stderr
    # The hour began with 254 active people (the run's 4, 250 staff) and Edsger's departure
    # counts too: with the 25th staff member 26 removals are more than 10% of 254.
    assert "100 of the 250 people of All Staff were deactivated" in result.stdout
    assert "The brake let 24 through and holds 76 for review" in result.stdout
    review = re.search(r"Provisioning tab: (/provisioning/acme/[0-9a-f-]+/held/)", result.stdout)
    assert review, result.stdout


@pytest.mark.slow
def test_simulate_idp_jwt_says_how_to_allow_a_local_issuer(site_env):
    result = simulate(site_env, "--auth", "jwt")
    assert result.returncode != 0
    assert "SCIM_PORTAL_DEV_FEDERATION=1" in result.stderr
    assert "Connection" not in result.stdout


def test_the_federation_switch_is_refused_in_production(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO")},
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DJANGO_PROFILE": "production",
        "SECRET_KEY": "x" * 50,
        "SCIM_PORTAL_DEV_FEDERATION": "1",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", "import example_project.settings"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0 and "demo profile only" in result.stderr
    env["DJANGO_PROFILE"] = "demo"
    demo = subprocess.run(
        [sys.executable, "-c", "import example_project.settings as s; "
         "print(s.SCIM_PORTAL['FEDERATION_ALLOW_HTTP'])"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert demo.stdout.strip() == "True"
    del env["SCIM_PORTAL_DEV_FEDERATION"]
    default = subprocess.run(
        [sys.executable, "-c", "import example_project.settings as s; "
         "print('FEDERATION_ALLOW_HTTP' in s.SCIM_PORTAL)"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert default.stdout.strip() == "False"
