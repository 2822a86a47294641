"""What the service layer writes in English (a held removal's reason, a domain check's
error, a request's warning, the refusals it raises) reaches people in their language,
with the shipped catalogs; the database, the API and the CLI keep the English."""

import os
import re
import subprocess
import sys
import time
from html import unescape

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client
from django.utils import translation

from scim_portal import _sentences
from scim_portal._sentences import in_language
from scim_portal.delivery import notifications
from scim_portal.models import AccountDomain, Removal, RequestLog
from scim_portal.provisioning import create_connection, directory, reconcile, safety, users
from scim_portal.provisioning.domains import add_domain
from scim_portal.provisioning.events import SYSTEM
from tests.scim_client import ScimClient

#: Values as they come: names with dots, quotes, spaces and “curly quotes”, emails.
SAMPLES = {
    "value": "'not a domain!'",
    "domain": "xn--strae-oqa.example",
    "name": "_scim-portal.acme.example",
    "user": "jane.o'hara@acme.example",
    "member": "Jane O. Hara",
    "connection": "Okta “EU” (prod)",
    "email": "jane@other.example",
    "removed": "1240",
    "percent": "10",
    "base": "12400",
    "minimum": "25",
    "attribute": "userName",
    "hook": "memberships.add",
}


def sentences():
    """Every declared sentence (the service layer's modules, imported above, declare theirs)."""
    return list(_sentences._DECLARED)


def values_of(sentence):
    return {name: SAMPLES[name] for name in re.findall(r"%\((\w+)\)s", sentence.words)}


def test_the_service_layer_declares_its_sentences():
    words = {sentence.words for sentence in sentences()}
    assert len(words) == len(sentences()) >= 30  # each once
    # All of them from the app's start, whatever a process imported first.
    started = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); "
         "from scim_portal import _sentences; print(len(_sentences._DECLARED))"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert int(started.stdout) == len(sentences())
    assert safety.TOO_MANY in sentences() and users.OUTSIDE_DOMAINS in (sentences())


@pytest.mark.parametrize("language", ["de", "fr"])
@pytest.mark.parametrize("sentence", sentences(), ids=lambda sentence: sentence.words[:40])
def test_each_sentence_reads_in_the_language_with_its_values(sentence, language):
    english = sentence.english(**values_of(sentence))
    with translation.override(language):
        shown = in_language(english)
        expected = translation.gettext(sentence.words) % {
            name: _sentences.number(int(value)) if name in sentence.numbers else value
            for name, value in values_of(sentence).items()
        }
    assert expected != english  # the shipped catalog translates it
    assert shown == expected
    for english_reader in ("en", "en-gb"):
        with translation.override(english_reader):
            assert in_language(english) == english


def test_numbers_in_the_readers_format_and_names_as_written():
    english = safety.TOO_MANY.english(removed=1240, percent=10, base=12400, minimum=25)
    assert english == (
        "1240 people removed within an hour: more than 10% of 12400 active users (and at least 25)."
    )
    with translation.override("de"):
        assert in_language(english) == (
            "1.240 Personen innerhalb einer Stunde entfernt: mehr als 10 % von 12.400 aktiven "
            "Benutzern (und mindestens 25)."
        )
    # A userName of digits is a name, not a number.
    with translation.override("de"):
        assert "12345 ist mit niemandem" in in_language(reconcile.NOT_LINKED.english(user="12345"))


def test_sentences_written_together_are_each_translated_and_the_rest_kept():
    outside = users.OUTSIDE_DOMAINS
    text = " ".join(
        [outside.english(email="a@x.example"), "Something else.", outside.english(email="b@y")]
    )
    with translation.override("de"):
        shown = in_language(text)
    assert shown == (
        "Die E-Mail-Adresse a@x.example liegt außerhalb der verifizierten Domains des Kontos. "
        "Something else. "
        "Die E-Mail-Adresse b@y liegt außerhalb der verifizierten Domains des Kontos."
    )
    assert in_language("") == ""


def test_a_value_is_searched_once_so_an_idps_text_cannot_stall_a_page():
    """A denial-of-service guard, not a speed goal: a connection's IdP writes what a
    warning or a name holds. A sentence's words over and over, out of order, took 8 to
    10 s of CPU per page when values were searched back and forth; one pass from each
    space takes milliseconds. The bound is hundreds of times that."""
    ending = "”: the directory keeps their membership."
    crafted = [
        ending + (" a is linked to b is linked to of “ of “" * 60)[:1950],
        ending + (" a is linked to b of “c" * 100)[:1950],
    ]
    with translation.override("de"):
        for text in crafted:
            started = time.process_time()
            assert in_language(text) == text  # no sentence in it
            assert time.process_time() - started < 2.0
    assert in_language("x " * 1001) == "x " * 1001  # past LONGEST: as written


# In the portal and the emails


def german(setup, who="admin"):
    client = Client(HTTP_ACCEPT_LANGUAGE="de")
    client.force_login(setup["people"][who])
    return client


def text_of(response, status=200):
    assert response.status_code == status, response.status_code
    return unescape(response.content.decode())


def braked(account, size=10):
    """An Entra connection of ``account`` whose brake (5%, at least 2) holds every
    removal after the first, and ``size`` people."""
    connection, issued = create_connection(account=account, name="Entra", provider="entra")
    directory.update_connection_settings(connection, brake_percent=5, brake_minimum=2)
    people = [
        directory.create_user(connection, {"userName": f"p{n}@acme.example"}) for n in range(size)
    ]
    for person in people[:2]:
        directory.update_user(connection, person.pk, lambda u: {**u.attributes, "active": False})
    return connection, issued, people


@pytest.mark.django_db
def test_a_held_removals_reason_on_the_held_page_and_in_the_drift_in_german(setup):
    connection, _issued, people = braked(setup["account"])
    held = Removal.objects.get(connection=connection, state="held")
    assert held.reason.startswith("2 people removed within an hour")  # stored in English
    client = german(setup)
    base = f"/provisioning/acme/{connection.pk}"

    for page in (text_of(client.get(f"{base}/held/")), text_of(client.get(f"{base}/drift/"))):
        assert "2 Personen innerhalb einer Stunde entfernt: mehr als 5 % von 10 aktiven" in page
        assert "people removed" not in page

    # A fix the service refuses says why in German.
    refused = client.post(f"{base}/drift/reapply/", {"target": people[1].pk})
    said = [str(message) for message in get_messages(refused.wsgi_request)]
    assert said == [
        "Die Entfernung von p1@acme.example wartet auf Prüfung: Genehmigen oder lehnen Sie "
        "sie dort ab."
    ]


@pytest.mark.django_db
def test_the_held_email_in_the_sites_language_gives_the_reason_in_it(setup, settings):
    settings.LANGUAGE_CODE = "de"
    braked(setup["account"])
    translation.deactivate_all()  # as the worker runs
    try:
        assert notifications.send_due() >= 1
    finally:
        translation.activate("en")
    message = next(m for m in mail.outbox if "Entra" in m.subject)
    for body in (message.body, message.alternatives[0][0]):
        assert "2 Personen innerhalb einer Stunde entfernt" in unescape(body)
        assert "people removed" not in body


@pytest.mark.django_db
def test_a_domain_checks_error_and_the_forms_refusals_in_german(setup, dns_server):
    client = german(setup)
    page = "/provisioning/acme/domains/"
    domain = add_domain(setup["account"], "acme.example", actor=SYSTEM)
    dns_server.publish(domain.record_name, "scim-portal-verification=someone-elses")

    checked = client.post(f"{page}{domain.pk}/verify/")

    [flash] = [str(message) for message in get_messages(checked.wsgi_request)]
    assert flash.startswith("acme.example ist noch nicht verifiziert: Unter ")
    assert "gibt es TXT-Einträge" in flash

    stored = AccountDomain.objects.get(pk=domain.pk).last_check_error
    assert stored.startswith(f"A TXT record exists at {domain.record_name}, but none holds")
    shown = text_of(client.get(page))
    assert (
        f"Unter {domain.record_name} gibt es TXT-Einträge, aber keiner enthält "
        f"{domain.record_value}. Prüfen Sie, ob der Wert genau kopiert wurde."
    ) in shown
    again = text_of(client.post(page, {"domain": "ACME.example"}), 400)
    assert "acme.example wurde diesem Konto bereits hinzugefügt." in again
    wrong = text_of(client.post(page, {"domain": "not a domain!"}), 400)
    assert "'not a domain!' ist kein Domainname." in wrong


@pytest.mark.django_db
def test_a_requests_warning_in_the_log_in_german_and_english_in_the_row(setup):
    connection, issued = create_connection(account=setup["account"], name="Okta", provider="okta")
    scim = ScimClient(Client(), connection, issued.raw)
    created = scim.post(
        "/Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "jane@elsewhere.example",
            "emails": [{"value": "jane@elsewhere.example", "primary": True}],
        },
    )
    assert created.status_code == 201, created.content
    log = RequestLog.objects.get(connection=connection, method="POST")
    assert log.warning == (
        "The email jane@elsewhere.example is outside the account's verified domains."
    )

    page = text_of(german(setup).get(f"/provisioning/acme/{connection.pk}/logs/{log.pk}/"))

    assert (
        "Die E-Mail-Adresse jane@elsewhere.example liegt außerhalb der verifizierten "
        "Domains des Kontos."
    ) in page
