"""Emails to people (scim_portal/delivery/notifications.py): each condition told once, to
exactly the readers of its account who want it, in Django's locmem mailbox."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.mail.backends import locmem
from django.db import connection as db_connection
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import formats, timezone, translation
from guardian.shortcuts import assign_perm

from scim_portal import permissions
from scim_portal.delivery import notifications
from scim_portal.models import (
    EndpointState,
    NotificationKind,
    NotificationOptOut,
    NotificationSent,
    RequestLog,
    WebhookEndpoint,
)
from scim_portal.provisioning import (
    create_connection,
    directory,
    issue_credential,
    revoke_credential,
    safety,
)
from tests.conftest import grant
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

VENDOR = "ops@vendor.example"
SETTINGS_URL = "https://saas.example.test/provisioning/acme/notifications/"


@pytest.fixture(autouse=True)
def _admins(settings):
    settings.ADMINS = [("Vendor ops", VENDOR)]
    settings.DEFAULT_FROM_EMAIL = "portal@saas.example.test"


@pytest.fixture
def people(db):
    """Readers of acme (directly and through a group), and people who must get nothing."""
    acme, globex = OrganizationFactory(handle="acme"), OrganizationFactory(handle="globex")
    role = Group.objects.create(name="acme provisioning readers")
    assign_perm(permissions.perm_name(permissions.READ), role, acme)
    through_group = UserFactory(username="grouped")
    through_group.groups.add(role)
    return {
        "acme": acme,
        "globex": globex,
        "reader": grant(UserFactory(username="reader"), acme, permissions.READ),
        "grouped": through_group,
        "opted_out": grant(UserFactory(username="optedout"), acme, permissions.READ),
        "creator_only": grant(UserFactory(username="creator"), acme, permissions.CREATE),
        "stranger": UserFactory(username="stranger"),
        "inactive": grant(UserFactory(username="gone", is_active=False), acme, permissions.READ),
        "no_email": grant(UserFactory(username="noemail", email=""), acme, permissions.READ),
        "globex_reader": grant(UserFactory(username="globex"), globex, permissions.READ),
    }


def opt_out(people, kind):
    NotificationOptOut.objects.create(user=people["opted_out"], account=people["acme"], kind=kind)


def recipients():
    return sorted(address for message in mail.outbox for address in message.to)


READERS = ["grouped@example.com", "optedout@example.com", "reader@example.com"]
WANTED = ["grouped@example.com", "reader@example.com"]


def html_of(message):
    [(html, kind)] = message.alternatives
    assert kind == "text/html"
    return html


def log(connection, status, when):
    RequestLog.objects.create(
        connection=connection, method="GET", path="/scim/v2/x/Users", status=status,
        duration_ms=1, created_at=when,
    )  # fmt: skip


def test_an_expiring_credential_is_told_once_to_the_readers_who_want_it(people):
    opt_out(people, NotificationKind.CREDENTIAL_EXPIRING)
    connection, issued = create_connection(account=people["acme"], name="Okta", provider="okta")
    create_connection(account=people["globex"], name="Theirs", provider="okta")
    soon = timezone.now() + timedelta(days=10)
    expiring = issue_credential(connection, label="Okta prod", expires_at=soon)

    assert notifications.send_due() == 2

    assert recipients() == WANTED
    message = mail.outbox[0]
    assert message.from_email == "portal@saas.example.test"
    day = formats.date_format(timezone.localtime(soon), "DATE_FORMAT")  # the recipient's locale
    assert message.subject == f"A SCIM credential of “Okta” expires on {day}"
    for body in (message.body, html_of(message)):
        assert expiring.credential.display in body and "Okta prod" in body
        assert expiring.raw not in body and issued.raw not in body
        assert SETTINGS_URL in body
        assert f"/provisioning/acme/{connection.pk}/tokens/" in body
    sent = NotificationSent.objects.get()
    assert sent.kind == NotificationKind.CREDENTIAL_EXPIRING and sent.recipients == 2

    assert notifications.send_due() == 0
    assert len(mail.outbox) == 2


def test_an_expiry_that_moves_away_and_comes_back_is_told_again(people):
    connection, _ = create_connection(account=people["acme"], name="Okta", provider="okta")
    issued = issue_credential(connection, expires_at=timezone.now() + timedelta(days=3))
    assert notifications.send_due() == 3
    credential = issued.credential

    credential.expires_at = timezone.now() + timedelta(days=60)
    credential.save()
    assert notifications.send_due() == 0

    credential.expires_at = timezone.now() + timedelta(days=5)
    credential.save()
    assert notifications.send_due() == 3
    assert recipients() == sorted(READERS * 2)


def test_revoked_and_far_credentials_are_not_told(people):
    connection, _ = create_connection(account=people["acme"], name="Okta", provider="okta")
    revoked = issue_credential(connection, expires_at=timezone.now() + timedelta(days=3))
    revoke_credential(revoked.credential)
    issue_credential(connection, expires_at=timezone.now() + timedelta(days=20))

    assert notifications.send_due() == 0
    assert mail.outbox == []


def test_a_connection_turning_failing_is_told_once_and_again_when_it_fails_anew(people):
    opt_out(people, NotificationKind.CONNECTION_FAILING)
    connection, _ = create_connection(account=people["acme"], name="Okta", provider="okta")
    other, _ = create_connection(account=people["globex"], name="Theirs", provider="okta")
    now = timezone.now()
    log(connection, 200, now - timedelta(hours=2))
    log(other, 200, now - timedelta(hours=2))
    assert notifications.send_due() == 0

    log(connection, 401, now - timedelta(minutes=5))
    log(connection, 401, now - timedelta(minutes=4))
    assert notifications.send_due() == 2
    assert recipients() == WANTED
    message = mail.outbox[0]
    assert message.subject == "SCIM connection “Okta” is failing"
    assert "authentication fails (401)" in message.body
    assert f"/provisioning/acme/{connection.pk}/logs/" in message.body
    assert SETTINGS_URL in message.body and SETTINGS_URL in html_of(message)

    log(connection, 401, now - timedelta(minutes=3))
    assert notifications.send_due() == 0

    log(connection, 200, now - timedelta(minutes=2))  # healthy again
    assert notifications.send_due() == 0
    log(connection, 500, now - timedelta(minutes=1))  # and failing anew
    assert notifications.send_due() == 2
    assert len(mail.outbox) == 4


def test_a_connection_left_without_a_usable_credential_is_failing(people):
    _, issued = create_connection(account=people["acme"], name="Okta", provider="okta")

    revoke_credential(issued.credential)

    assert notifications.send_due() == 3
    assert recipients() == READERS
    assert mail.outbox[0].subject == "SCIM connection “Okta” is failing"
    assert "Every credential is revoked or expired: issue a new one." in mail.outbox[0].body
    assert notifications.send_due() == 0


def test_a_failing_email_is_all_in_the_sites_language_even_from_the_worker(people, settings):
    """The shipped German catalog; the worker runs with translations deactivated (the
    management command's @no_translations): the explanation is German like the rest."""
    settings.LANGUAGE_CODE = "de"
    _, issued = create_connection(account=people["acme"], name="Okta", provider="okta")
    revoke_credential(issued.credential)

    translation.deactivate_all()
    try:
        assert notifications.send_due() == 3
    finally:
        translation.activate("en")
    body = mail.outbox[0].body
    assert "Alle Zugangsdaten sind widerrufen oder abgelaufen" in body
    assert "Every credential" not in body


def test_a_silent_connection_is_told_once_per_silence(people):
    opt_out(people, NotificationKind.CONNECTION_SILENT)
    now = timezone.now()
    silent, _ = create_connection(account=people["acme"], name="Okta", provider="okta")
    quiet_on_purpose, _ = create_connection(account=people["acme"], name="Entra", provider="entra")
    never, _ = create_connection(account=people["acme"], name="New", provider="okta")
    theirs, _ = create_connection(account=people["globex"], name="Theirs", provider="okta")
    silent.last_request_at = now - timedelta(hours=49)
    silent.save()
    quiet_on_purpose.last_request_at = now - timedelta(hours=49)
    quiet_on_purpose.silent_after_hours = 72
    quiet_on_purpose.save()
    theirs.last_request_at = now - timedelta(hours=10)
    theirs.silent_after_hours = 6
    theirs.save()
    assert never.last_request_at is None

    assert notifications.send_due() == 3  # acme's two readers, globex's one

    acme = [m for m in mail.outbox if m.to != ["globex@example.com"]]
    assert sorted(address for m in acme for address in m.to) == WANTED
    assert acme[0].subject == "SCIM connection “Okta” has had no request for 48 hours"
    assert ["globex@example.com"] in [m.to for m in mail.outbox]
    assert notifications.send_due() == 0

    silent.last_request_at = now  # it spoke
    silent.save()
    assert notifications.send_due() == 0
    silent.last_request_at = now - timedelta(hours=50)  # and fell silent again
    silent.save()
    assert notifications.send_due() == 2


def test_failing_deliveries_tell_the_accounts_readers_and_the_vendor(people):
    opt_out(people, NotificationKind.DELIVERIES_FAILING)
    since = timezone.now() - timedelta(hours=2)
    scoped = WebhookEndpoint.objects.create(
        account=people["acme"], url="https://hooks.example.com/T000/B000/s3cr3tpath",
        failing_since=since,
    )  # fmt: skip
    WebhookEndpoint.objects.create(
        url="https://billing.example.com/hook", description="Billing", failing_since=since
    )
    WebhookEndpoint.objects.create(  # a blip: not yet
        url="https://crm.example.com/hook", failing_since=timezone.now() - timedelta(minutes=5)
    )

    assert notifications.send_due() == 4  # acme's two readers, the vendor twice

    assert recipients() == sorted([VENDOR, VENDOR, *WANTED])
    to_readers = [m for m in mail.outbox if m.to != [VENDOR]]
    assert to_readers[0].subject == "Event deliveries to hooks.example.com are failing"
    vendor = [m for m in mail.outbox if m.to == [VENDOR]]
    assert sorted(m.subject for m in vendor) == [
        "[Django] Event deliveries to Billing are failing",
        "[Django] Event deliveries to hooks.example.com are failing",
    ]
    for message in mail.outbox:
        assert "s3cr3tpath" not in message.body and "s3cr3tpath" not in html_of(message)
    assert SETTINGS_URL in to_readers[0].body
    assert all(SETTINGS_URL not in m.body for m in vendor)
    assert notifications.send_due() == 0

    scoped.state = EndpointState.DISABLED  # the engine gave up on it
    scoped.save()
    mail.outbox.clear()
    assert notifications.send_due() == 3
    assert recipients() == sorted([VENDOR, *WANTED])
    assert mail.outbox[0].subject.endswith(
        "Webhook endpoint hooks.example.com was disabled: deliveries kept failing"
    )


def test_people_without_the_read_permission_get_nothing(people):
    _, issued = create_connection(account=people["acme"], name="Okta", provider="okta")
    revoke_credential(issued.credential)

    notifications.send_due()

    for who in ("creator_only", "stranger", "inactive", "no_email", "globex_reader"):
        address = people[who].email
        assert not address or address not in recipients(), who


def test_two_workers_telling_the_same_condition_send_it_once(people, monkeypatch):
    _, issued = create_connection(account=people["acme"], name="Okta", provider="okta")
    revoke_credential(issued.credential)
    # Both workers read the condition before either recorded it.
    monkeypatch.setattr(notifications, "_not_yet_told", lambda conditions: conditions)

    first, second = notifications.send_due(), notifications.send_due()

    assert (first, second) == (3, 0)
    assert len(mail.outbox) == 3
    assert NotificationSent.objects.count() == 1


def test_a_failed_send_is_tried_again_by_the_next_sweep(people, monkeypatch):
    _, issued = create_connection(account=people["acme"], name="Okta", provider="okta")
    revoke_credential(issued.credential)

    def refuse(self, messages):
        raise ConnectionRefusedError("SMTP server down")

    with monkeypatch.context() as patched:
        patched.setattr(locmem.EmailBackend, "send_messages", refuse)
        assert notifications.send_due() == 0
    assert not NotificationSent.objects.exists()

    assert notifications.send_due() == 3
    assert recipients() == READERS


def sweep_queries():
    with CaptureQueriesContext(db_connection) as queries:
        notifications.send_due()
    return len(queries)


def every_condition(account, name):
    """A connection with every connection condition, and a failing endpoint."""
    connection, _ = create_connection(account=account, name=name, provider="okta")
    issue_credential(connection, expires_at=timezone.now() + timedelta(days=3))
    connection.last_request_at = timezone.now() - timedelta(days=3)
    connection.save()
    log(connection, 401, timezone.now() - timedelta(days=3))
    WebhookEndpoint.objects.create(
        account=account, url="https://hooks.example.com/x",
        failing_since=timezone.now() - timedelta(hours=2),
    )  # fmt: skip


def test_the_sweep_costs_the_same_for_1_and_20_connections(people):
    assert sweep_queries() == sweep_queries()  # nothing anywhere
    every_condition(people["acme"], "first")
    notifications.send_due()
    assert len(mail.outbox) == 4 * 3 + 1
    one = sweep_queries()

    for n in range(19):
        every_condition(OrganizationFactory(), f"more {n}")
    notifications.send_due()
    twenty = sweep_queries()

    assert one == twenty
    assert twenty <= 6


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_workers_sweeping_at_the_same_moment_send_once(people, monkeypatch):
    """Two threads (two database connections) both read the condition, then both try to
    tell it: the second one's insert waits for the first's commit, fails, and sends
    nothing."""
    _, issued = create_connection(account=people["acme"], name="Okta", provider="okta")
    revoke_credential(issued.credential)
    both_read = threading.Barrier(2, timeout=10)
    read = notifications._not_yet_told

    def read_then_wait(conditions):
        found = read(conditions)
        both_read.wait()
        return found

    monkeypatch.setattr(notifications, "_not_yet_told", read_then_wait)
    sent = []

    def worker():
        try:
            sent.append(notifications.send_due())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(sent) == [0, 3]
    assert recipients() == READERS
    assert NotificationSent.objects.count() == 1


def test_names_are_escaped_in_html_and_plain_in_text(people):
    _, issued = create_connection(
        account=people["acme"], name='Ops & <b>"Okta"</b>', provider="okta"
    )
    revoke_credential(issued.credential)

    notifications.send_due()

    message = mail.outbox[0]
    assert message.subject == 'SCIM connection “Ops & <b>"Okta"</b>” is failing'
    assert 'The SCIM connection "Ops & <b>"Okta"</b>"' in message.body
    assert "<strong>Ops &amp; &lt;b&gt;&quot;Okta&quot;&lt;/b&gt;</strong>" in html_of(message)


# Removals held by the brake


@pytest.fixture
def deciders(people):
    """People who may decide acme's removals (the delete permission, and read to open the
    page), directly and through a group, one of whom opted out of these emails; and one with
    the delete permission alone, who could not open the page."""
    acme = people["acme"]
    role = Group.objects.create(name="acme provisioning admins")
    assign_perm(permissions.perm_name(permissions.DELETE), role, acme)
    assign_perm(permissions.perm_name(permissions.READ), role, acme)
    grouped = UserFactory(username="admins")
    grouped.groups.add(role)
    quiet = grant(UserFactory(username="quiet"), acme, permissions.READ, permissions.DELETE)
    NotificationOptOut.objects.create(user=quiet, account=acme, kind=NotificationKind.REMOVALS_HELD)
    grant(UserFactory(username="delete-only"), acme, permissions.DELETE)
    return {
        "decider": grant(
            UserFactory(username="decider"), acme, permissions.READ, permissions.DELETE
        ),
        "grouped_decider": grouped,
        "quiet": quiet,
    }


def braked(account, name="Entra", size=20):
    """A connection of ``account`` with ``size`` people whose brake (5%, at least 2) holds
    every removal after the first."""
    connection, _ = create_connection(account=account, name=name, provider="entra")
    directory.update_connection_settings(connection, brake_percent=5, brake_minimum=2)
    people = [
        directory.create_user(connection, {"userName": f"{name}-{n}@example.com"})
        for n in range(size)
    ]
    return connection, people


def deactivate(connection, *people):
    for person in people:
        directory.update_user(connection, person.pk, lambda u: {**u.attributes, "active": False})


DECIDERS = ["admins@example.com", "decider@example.com"]


def test_held_removals_are_told_once_to_the_people_who_may_decide_them(people, deciders):
    connection, directory_people = braked(people["acme"])
    deactivate(connection, *directory_people[:4])
    assert safety.held(connection).count() == 3

    assert notifications.send_due() == 2

    assert recipients() == DECIDERS  # not the readers, not who opted out
    message = mail.outbox[0]
    assert message.subject == "3 removals are held for review on SCIM connection “Entra”"
    for body in (message.body, html_of(message)):
        assert f"https://saas.example.test/provisioning/acme/{connection.pk}/held/" in body
        assert "2 people removed within an hour" in body
        assert "may approve removals in the SCIM provisioning of" in body
        assert SETTINGS_URL in body
    sent = NotificationSent.objects.get(kind=NotificationKind.REMOVALS_HELD)
    assert sent.key.startswith(f"connection:{connection.pk}:held:") and sent.recipients == 2
    assert notifications.send_due() == 0


def test_one_hold_episode_is_told_once_until_nothing_is_held(people, deciders):
    connection, directory_people = braked(people["acme"])
    deactivate(connection, *directory_people[:3])
    assert notifications.send_due() == 2

    deactivate(connection, *directory_people[3:6])  # more held: the same episode
    assert notifications.send_due() == 0
    safety.approve(connection, [safety.held(connection).first().pk])  # its first decided
    assert notifications.send_due() == 0
    safety.reject(connection)  # nothing held: the episode is over
    assert notifications.send_due() == 0

    # The brake holds again (the hour's count starts from the approval): a new episode.
    deactivate(connection, *directory_people[6:8])
    assert safety.held(connection).count() == 1
    assert notifications.send_due() == 2
    assert mail.outbox[-1].subject == "1 removal is held for review on SCIM connection “Entra”"
    assert NotificationSent.objects.filter(kind=NotificationKind.REMOVALS_HELD).count() == 2


def test_the_sweep_costs_the_same_for_held_removals_on_1_and_20_connections(people, deciders):
    connection, directory_people = braked(people["acme"], size=5)
    deactivate(connection, *directory_people[:3])
    notifications.send_due()
    assert len(mail.outbox) == 2
    one = sweep_queries()

    for n in range(19):
        account = OrganizationFactory()
        grant(UserFactory(), account, permissions.READ, permissions.DELETE)
        connection, directory_people = braked(account, name=f"more{n}", size=5)
        deactivate(connection, *directory_people[:3])
    notifications.send_due()
    assert len(mail.outbox) == 2 + 19
    assert sweep_queries() == one <= 7


def test_two_workers_reading_the_same_hold_tell_it_once(people, deciders):
    connection, directory_people = braked(people["acme"])
    deactivate(connection, *directory_people[:3])
    # Both workers read the condition before either told it: the same key.
    [first], [second] = notifications._held_removals(), notifications._held_removals()

    assert notifications.tell(first, [deciders["decider"]]) == 1
    assert notifications.tell(second, [deciders["decider"]]) == 0
    assert len(mail.outbox) == 1
