"""The portal's words from Python come out in the visitor's language: flash messages,
form errors and help, explanations, activity lines, the provider's form labels; emails in
the site's language; and what machines read (the SCIM service, the management API, the
management command) stays English whatever language is asked for.

The package's own catalogs are compiled later: each test builds a small German catalog
of the messages it checks (polib), put first on ``LOCALE_PATHS``.
"""

import io
import re
from datetime import timedelta
from html import unescape

import polib
import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone, translation
from guardian.shortcuts import assign_perm

from scim_portal import permissions
from scim_portal.delivery import notifications
from scim_portal.models import EnvironmentKey, RequestLog
from scim_portal.portal.safety import approved_message
from scim_portal.provisioning import create_connection, issue_credential, revoke_credential
from scim_portal.provisioning.effects import Effects
from scim_portal.provisioning.events import Actor
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

#: msgid -> German (a pair of msgids -> a pair of forms for ngettext).
GERMAN = {
    "Revoked %(method)s %(credential)s; it stopped working at once.": (
        "%(method)s %(credential)s widerrufen; er funktioniert ab sofort nicht mehr."
    ),
    "HTTP Header": "HTTP-Kopfzeile",
    "Bearer token": "Bearer-Token",
    "The vendor has not registered an OAuth application yet: choose another method.": (
        "Der Anbieter hat noch keine OAuth-Anwendung registriert: Wählen Sie eine andere Methode."
    ),
    "%(provider)s recommends %(method)s.": "%(provider)s empfiehlt %(method)s.",
    "Authorization (Bearer)": "Autorisierung (Bearer)",
    "The credential was missing, wrong, revoked or expired: a token, a username and "
    "password, or an access token from the token endpoint. Enter a current one in your "
    "identity provider's provisioning settings (issue one on the Credentials tab if needed).": (
        "Die Zugangsdaten fehlten, waren falsch, widerrufen oder abgelaufen."
    ),
    "Token Revoked": "Token widerrufen",
    "%(username)s in Django admin": "%(username)s in der Django-Verwaltung",
    ("%(count)s removal", "%(count)s removals"): ("%(count)s Entfernung", "%(count)s Entfernungen"),
    ("%(count)s membership", "%(count)s memberships"): (
        "%(count)s Mitgliedschaft",
        "%(count)s Mitgliedschaften",
    ),
    ("%(count)s account", "%(count)s accounts"): ("%(count)s Konto", "%(count)s Konten"),
    "Approved %(removals)s: %(deactivated)s deactivated, %(removed)s removed, "
    "%(accounts)s deactivated.": (
        "%(removals)s genehmigt: %(deactivated)s deaktiviert, %(removed)s entfernt, "
        "%(accounts)s deaktiviert."
    ),
}


@pytest.fixture
def german(tmp_path, settings):
    """A German catalog of :data:`GERMAN`, found before any other."""
    catalog = polib.POFile()
    catalog.metadata = {
        "Content-Type": "text/plain; charset=UTF-8",
        "Language": "de",
        "Plural-Forms": "nplurals=2; plural=(n != 1);",
    }
    for msgid, msgstr in GERMAN.items():
        if isinstance(msgid, tuple):
            catalog.append(
                polib.POEntry(
                    msgid=msgid[0],
                    msgid_plural=msgid[1],
                    msgstr_plural={0: msgstr[0], 1: msgstr[1]},
                )
            )
        else:
            catalog.append(polib.POEntry(msgid=msgid, msgstr=msgstr))
    folder = tmp_path / "locale" / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    catalog.save_as_mofile(str(folder / "django.mo"))
    # Changing LOCALE_PATHS drops Django's loaded catalogs (django.test.signals).
    settings.LOCALE_PATHS = [str(tmp_path / "locale")]


@pytest.fixture
def admin_de(setup):
    client = Client(HTTP_ACCEPT_LANGUAGE="de")
    client.force_login(setup["people"]["admin"])
    return client


def text_of(response):
    return unescape(response.content.decode())


def test_a_flash_message_after_revoking_a_credential_is_in_german(german, setup, base, admin_de):
    token = setup["token"]
    response = admin_de.post(base + f"/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    # The sentence and Okta's own name for the method, both German.
    assert message == (
        f"HTTP-Kopfzeile {token.display} widerrufen; er funktioniert ab sofort nicht mehr."
    )


def test_the_same_message_stays_english_for_an_english_visitor(german, setup, base):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(setup["people"]["admin"])
    token = setup["token"]
    response = client.post(base + f"/tokens/{token.pk}/revoke/")
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message == f"Revoked HTTP Header {token.display}; it stopped working at once."


def test_a_form_error_and_help_are_in_german(german, setup, admin_de):
    data = {"name": "Okta", "provider": "okta", "method": "authorization", "nonce": "n1"}
    response = admin_de.post("/provisioning/acme/new/", data)
    assert response.status_code == 400
    page = text_of(response)
    assert "Der Anbieter hat noch keine OAuth-Anwendung registriert" in page
    assert "The vendor has not registered" not in page
    assert "Okta empfiehlt HTTP-Kopfzeile." in page


def test_the_provider_form_labels_on_the_issued_page_are_in_german(german, setup, admin_de):
    data = {"name": "Okta 2", "provider": "okta", "method": "bearer", "nonce": "n2"}
    response = admin_de.post("/provisioning/acme/new/", data)
    assert response.status_code == 200
    labels = re.findall(r'<label for="scim-[^"]+">([^<]+)</label>', text_of(response))
    assert "Autorisierung (Bearer)" in labels and "Authorization (Bearer)" not in labels


def test_a_failed_request_is_explained_in_german(german, setup, base, admin_de):
    log = setup["log"]  # a 401
    page = text_of(admin_de.get(base + f"/logs/{log.pk}/"))
    assert "Die Zugangsdaten fehlten, waren falsch, widerrufen oder abgelaufen." in page
    assert "The credential was missing" not in page


def test_an_activity_line_is_in_german(german, setup, base, admin_de):
    staff = UserFactory(username="ops")
    revoke_credential(setup["token"], actor=Actor.for_user(staff, via="admin"))
    page = text_of(admin_de.get(base + "/activity/"))
    assert "Token widerrufen" in page
    assert "ops in der Django-Verwaltung" in page
    assert "Token Revoked" not in page and "in Django admin" not in page


def test_counts_in_an_approval_message_are_german_words_and_numbers(german):
    done = Effects(
        removals=1240, memberships_deactivated=1, memberships_removed=0, host_users_deactivated=2
    )
    with translation.override("de"):
        german_text = approved_message(done)
    with translation.override("en"):
        english_text = approved_message(done)
    assert german_text == (
        "1.240 Entfernungen genehmigt: 1 Mitgliedschaft deaktiviert, 0 entfernt, "
        "2 Konten deaktiviert."
    )
    assert english_text == (
        "Approved 1,240 removals: 1 membership deactivated, 0 removed, 2 accounts deactivated."
    )


@pytest.fixture
def expiring(db):
    """An account's reader, and a bearer token of its connection expiring in 10 days."""
    account = OrganizationFactory(handle="acme")
    reader = UserFactory(username="reader")
    assign_perm(permissions.perm_name(permissions.READ), reader, account)
    connection, _ = create_connection(account=account, name="Okta", provider="okta")
    issue_credential(connection, expires_at=timezone.now() + timedelta(days=10))
    return connection


def test_emails_are_written_in_the_sites_language_whatever_the_thread_speaks(
    german, settings, expiring
):
    settings.LANGUAGE_CODE = "de"
    with translation.override("en"):  # a worker thread left with another language
        assert notifications.send_due() == 1
    [message] = mail.outbox
    assert "Bearer-Token" in message.body and "Bearer token" not in message.body


def test_emails_stay_english_on_an_english_site_from_a_german_thread(german, expiring):
    with translation.override("de"):
        assert notifications.send_due() == 1
    [message] = mail.outbox
    assert "Bearer token" in message.body and "Bearer-Token" not in message.body


def all_german():
    for msgstr in GERMAN.values():
        yield from (msgstr if isinstance(msgstr, tuple) else (msgstr,))


def assert_english(text):
    """No German of the test catalog, not even a label of it, is in ``text``."""
    for german_text in all_german():
        stem = re.split(r"%\(\w+\)s", german_text)
        assert not any(len(part) > 5 and part in text for part in stem), german_text


def test_the_api_and_scim_answer_in_english_to_a_german_client(german, setup):
    _key, raw = EnvironmentKey.issue("CI")
    client = Client(HTTP_ACCEPT_LANGUAGE="de")
    api = f"/api/v1/accounts/acme/connections/{setup['connection'].pk}/"
    revoked = client.post(
        api + f"credentials/{setup['token'].pk}/revoke/", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert revoked.status_code == 200
    events = client.get(api + "events/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert events.status_code == 200 and events.json()["events"]
    refused = client.get(
        f"/scim/v2/{setup['connection'].pk}/Users", HTTP_AUTHORIZATION="Bearer scimp_wrong"
    )
    assert refused.status_code == 401
    for response in (revoked, events, refused):
        assert_english(response.content.decode())
    assert RequestLog.objects.filter(connection=setup["connection"], status=401).exists()


def test_the_management_commands_output_stays_english(german, settings, setup):
    settings.LANGUAGE_CODE = "de"
    out = io.StringIO()
    call_command(
        "scim_portal", "issue-credential", "--connection", str(setup["connection"].pk),
        "--kind", "bearer", stdout=out,
    )  # fmt: skip
    assert "Bearer token" in out.getvalue()
    assert_english(out.getvalue())
