"""Event cursor paging while several writers commit at once: no gaps, no repeats."""

import threading

import pytest
from django.db import connections
from django.test import Client

from scim_portal.models import EnvironmentKey, ProvisioningEvent
from scim_portal.provisioning import create_connection, directory
from tests.factories import OrganizationFactory

# SQLite's shared in-memory test database refuses concurrent writers ("table is locked"),
# so this runs in the PostgreSQL half of `make test` only (see tests/conftest.py).
pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

WRITERS = 4
USERS_PER_WRITER = 15


def test_readers_never_miss_or_repeat_events_under_concurrent_writes():
    account = OrganizationFactory(handle="busy")
    connection, _ = create_connection(account=account, name="Busy", provider="okta")
    _key, raw = EnvironmentKey.issue("reader")
    url = f"/api/v1/accounts/busy/connections/{connection.pk}/events/"
    done = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            for i in range(USERS_PER_WRITER):
                directory.create_user(connection, {"userName": f"w{writer}-{i}@example.com"})
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    def read() -> None:
        client, after = Client(), 0
        try:
            while True:
                finished = done.is_set()
                body = client.get(
                    url, {"after": after, "limit": 7}, HTTP_AUTHORIZATION=f"Bearer {raw}"
                ).json()
                seen.extend(event["number"] for event in body["events"])
                after = body["next_after"]
                if finished and not body["has_more"]:
                    return
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    reader = threading.Thread(target=read)
    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    reader.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(60)
    done.set()
    reader.join(60)

    assert not errors, errors
    total = ProvisioningEvent.objects.filter(connection_id=connection.pk).count()
    assert total == 2 + WRITERS * USERS_PER_WRITER  # connection.created, token.issued, users
    assert seen == list(range(1, total + 1))
