import os

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import override_settings
from guardian.shortcuts import assign_perm

from scim_portal import _cache, permissions
from scim_portal.models import RequestLog
from scim_portal.provisioning import create_connection, directory
from tests.delivery.receiver import Receiver
from tests.dns_server import DnsServer, silent_port
from tests.factories import ConnectionFactory, OrganizationFactory, UserFactory
from tests.scim_client import ScimClient

#: A django-scim2 host with settings of its own, run in its own process by
#: tests/test_import_django_scim2.py.
collect_ignore = ["django_scim2_host"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (rate limits, invitations, one-time keys)."""
    cache.clear()
    _cache.reset()


@pytest.fixture
def organization(db):
    return OrganizationFactory()


@pytest.fixture
def connection(db):
    return ConnectionFactory()


@pytest.fixture
def issued_connection(organization):
    """A connection created through the service layer, with its raw token."""
    return create_connection(account=organization, name="Okta", provider="okta")


@pytest.fixture
def scim(client, db):
    connection, issued = create_connection(
        account=OrganizationFactory(), name="Primary", provider="okta"
    )
    return ScimClient(client, connection, issued.raw)


@pytest.fixture
def other_scim(client, db):
    """A second connection, in another account."""
    connection, issued = create_connection(
        account=OrganizationFactory(), name="Other", provider="entra"
    )
    return ScimClient(client, connection, issued.raw)


def grant(user, account, *codenames):
    for codename in codenames:
        assign_perm(permissions.perm_name(codename), user, account)
    return user


@pytest.fixture
def setup(db):
    """Account A with a populated connection, and people with different powers."""
    account, other_account = (
        OrganizationFactory(handle="acme"),
        OrganizationFactory(handle="globex"),
    )
    connection, issued = create_connection(account=account, name="Okta", provider="okta")
    user = directory.create_user(connection, {"userName": "ada@example.com"})
    group = directory.create_group(
        connection, {"displayName": "Eng"}, directory.MemberChange("add", (str(user.pk),))
    )
    log = RequestLog.objects.create(
        connection=connection, method="GET", path="/scim/v2/x/Users", status=401, duration_ms=2
    )
    other_connection, _ = create_connection(account=other_account, name="Theirs", provider="entra")
    people = {
        "admin": grant(
            UserFactory(username="admin"), account,
            permissions.READ, permissions.CREATE, permissions.DELETE,
        ),
        "auditor": grant(UserFactory(username="auditor"), account, permissions.READ),
        "member": UserFactory(username="member"),
        "other_admin": grant(
            UserFactory(username="other"), other_account,
            permissions.READ, permissions.CREATE, permissions.DELETE,
        ),
    }  # fmt: skip
    return {
        "account": account,
        "connection": connection,
        "token": issued.token,
        "user": user,
        "group": group,
        "log": log,
        "other_connection": other_connection,
        "people": people,
    }


@pytest.fixture
def base(setup):
    return f"/provisioning/acme/{setup['connection'].pk}"


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgresql`` need a server database: deselected on SQLite runs."""
    if os.environ.get("TEST_DATABASE") == "postgres":
        return
    keep = [item for item in items if "postgresql" not in item.keywords]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if "postgresql" in i.keywords])
        items[:] = keep


def dns_settings(nameserver, timeout=2.0):
    """``SCIM_PORTAL`` of tests/settings.py, asking only ``nameserver`` for TXT records."""
    return override_settings(
        SCIM_PORTAL={
            **django_settings.SCIM_PORTAL,
            "DNS_NAMESERVERS": [nameserver],
            "DNS_TIMEOUT": timeout,
        }
    )


@pytest.fixture
def dns_server():
    """A real DNS server on 127.0.0.1 (UDP and TCP), the only one the app asks; publish
    records with ``dns_server.publish(name, *values)``."""
    server = DnsServer.start()
    try:
        with dns_settings(server.nameserver):
            yield server
    finally:
        server.stop()


@pytest.fixture
def silent_dns():
    """DNS that never answers: the app asks a port where nothing listens, for 0.5 s."""
    with dns_settings(f"127.0.0.1:{silent_port()}", timeout=0.5):
        yield


@pytest.fixture
def receiver():
    """A webhook receiver: a real HTTP server on 127.0.0.1 (tests/delivery/receiver.py)."""
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def insecure(settings):
    """Webhook receivers of the tests are on 127.0.0.1 over http."""
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "WEBHOOK_ALLOW_INSECURE": True}


@pytest.fixture
def drift_host(setup):
    """acme's "Okta" with every kind of drift the drift report shows (tests/drift_seed.py)."""
    from tests.drift_seed import seed

    return {**setup, **seed(setup)}
