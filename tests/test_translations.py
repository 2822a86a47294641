"""Every message of the portal and its emails is marked for translation, and German and
French are complete, current and used.

The proof of "marked": a pseudo-locale. makemessages extracts everything marked (in a
copy of the package, so nothing in the repository is written), polib turns the catalog
into a translation that wraps each message in ⟦…⟧, and every portal page and email is
rendered in it. Any visible text left outside the markers is a message nobody marked,
unless it is data: the fixture's own values, numbers, dates, ids, URLs, code, provider
names, or one of Django's own messages.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import django
import polib
import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import models
from django.template.loader import render_to_string
from django.test import Client, override_settings
from django.urls import URLPattern, reverse
from django.utils import dates, formats, timezone, translation

import scim_portal
from scim_portal import health
from scim_portal.models import AccountDomain, Connection, DeletedUser, Removal, WebhookEndpoint
from scim_portal.portal import urls as portal_urls
from scim_portal.providers import PROVIDERS
from scim_portal.provisioning import directory, issue_credential
from scim_portal.provisioning.adapter import get_adapter
from scim_portal.templatetags.scim_portal import ago, number
from tests.conftest import dns_settings
from tests.dns_server import silent_port
from tests.oauth.test_authorization_code import register

PSEUDO = "xx"
OPEN, CLOSE = "⟦", "⟧"
LANGUAGES = ("de", "fr")
PACKAGE = Path(scim_portal.__file__).parent
LOCALE = PACKAGE / "locale"

# Extraction, the pseudo-locale and the committed catalogs


@pytest.fixture(scope="session")
def extracted(tmp_path_factory):
    """The catalog of every marked message, as makemessages extracts it from a copy of
    the package (once per session)."""
    copy = tmp_path_factory.mktemp("extract") / "scim_portal"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("locale", "__pycache__"))
    (copy / "locale").mkdir()
    here = os.getcwd()
    os.chdir(copy)
    try:
        with override_settings(LOCALE_PATHS=[]):
            call_command(
                "makemessages", locale=[PSEUDO], verbosity=0, no_obsolete=True,
                add_location="file",
            )  # fmt: skip
    finally:
        os.chdir(here)
    return polib.pofile(str(copy / "locale" / PSEUDO / "LC_MESSAGES" / "django.po"))


def wrapped(text: str) -> str:
    return f"{OPEN}{text}{CLOSE}"


@pytest.fixture(scope="session")
def pseudo_locale(extracted, tmp_path_factory):
    """A compiled translation wrapping every extracted message in ⟦…⟧ (placeholders and
    plural forms intact): the directory to put in LOCALE_PATHS."""
    root = tmp_path_factory.mktemp("pseudo")
    catalog = polib.POFile()
    catalog.metadata = {
        "Content-Type": "text/plain; charset=UTF-8",
        "Plural-Forms": "nplurals=2; plural=(n != 1);",
        "Language": PSEUDO,
    }
    for entry in extracted:
        pseudo = polib.POEntry(msgctxt=entry.msgctxt, msgid=entry.msgid, flags=[])
        if entry.msgid_plural:
            pseudo.msgid_plural = entry.msgid_plural
            pseudo.msgstr_plural = {0: wrapped(entry.msgid), 1: wrapped(entry.msgid_plural)}
        else:
            pseudo.msgstr = wrapped(entry.msgid)
        catalog.append(pseudo)
    folder = root / PSEUDO / "LC_MESSAGES"
    folder.mkdir(parents=True)
    catalog.save(str(folder / "django.po"))
    catalog.save_as_mofile(str(folder / "django.mo"))
    return root


@pytest.fixture
def in_pseudo(settings, pseudo_locale):
    settings.LANGUAGES = [*settings.LANGUAGES, (PSEUDO, "Pseudo")]
    settings.LOCALE_PATHS = [str(pseudo_locale)]
    return PSEUDO


def committed(language: str) -> polib.POFile:
    path = LOCALE / language / "LC_MESSAGES" / "django.po"
    if not path.exists():
        pytest.fail(
            f"No {language} catalog: {path.relative_to(PACKAGE.parent)} is missing "
            "(makemessages -l de -l fr, translate, compilemessages; docs/portal.md)."
        )
    return polib.pofile(str(path))


def key(entry: polib.POEntry) -> tuple[str, str]:
    return entry.msgctxt or "", entry.msgid


# What counts as data on a page

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]|\{\w*\}")
NUMBER = re.compile(r"[-+]?\d[\d.,:/\u00a0\u202f]*")
URL = re.compile(r"\b(?:https?|mailto)://\S+|\S+@\S+\.\w+|/[\w./?=&%-]*")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def django_messages() -> set[str]:
    """Django's own messages (in English: it has no catalog of the pseudo-locale)."""
    path = Path(django.__file__).parent
    found: set[str] = set()
    for catalog in (path / "conf" / "locale" / "en" / "LC_MESSAGES").glob("*.po"):
        found.update(entry.msgid for entry in polib.pofile(str(catalog)) if entry.msgid)
    return found


def date_words() -> set[str]:
    """Month and day names and "a.m."-like words Django's date formats write."""
    words = {"a.m.", "p.m.", "AM", "PM", "midnight", "noon", "UTC"}
    for table in (dates.MONTHS, dates.MONTHS_3, dates.MONTHS_AP, dates.MONTHS_ALT,
                  dates.WEEKDAYS, dates.WEEKDAYS_ABBR):  # fmt: skip
        words.update(str(name) for name in table.values())
        words.update(str(name).title() for name in table.values())
    return words


def stored_strings() -> set[str]:
    """Every text the database holds (names, usernames, emails, roles, reasons, JSON
    keys and values): what the fixture put there is data, not a message."""
    found: set[str] = set()

    def collect(value):
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, dict):
            for item_key, item in value.items():
                found.add(str(item_key))
                collect(item)
        elif isinstance(value, list | tuple):
            for item in value:
                collect(item)

    for model in apps.get_models():
        fields = [
            field.attname for field in model._meta.concrete_fields
            if isinstance(field, models.CharField | models.TextField | models.JSONField)
        ]  # fmt: skip
        if not fields or model._meta.app_label in ("sessions", "contenttypes", "admin"):
            continue
        for row in model._default_manager.values_list(*fields):
            collect(list(row))
        found.update(str(instance) for instance in model._default_manager.all()[:200])
    return {text for text in found if len(text.strip()) > 1}


class Data:
    """Removes data from a piece of unmarked text; what is left with a letter in it is
    a message nobody marked."""

    def __init__(self, ours: set[str], account=None, also=()):
        words = stored_strings() | date_words() | {p.name for p in PROVIDERS.values()}
        words |= set(also)
        if account is not None:  # the host's own role names
            words |= {str(label) for _value, label in get_adapter().list_roles(account)}
        words |= {"True", "False", "None"}
        self.pattern = re.compile(
            "|".join(
                rf"(?<!\w){re.escape(word)}(?!\w)" for word in sorted(words, key=len, reverse=True)
            )
        )
        self.django = django_messages() - ours

    def leftover(self, text: str) -> str:
        text = " ".join(text.split())
        if not text or text in self.django:
            return ""
        for pattern in (self.pattern, UUID, URL, NUMBER):
            text = pattern.sub(" ", text)
        return text if re.search(r"[^\W\d_]", text) else ""


# Walking a page

SKIPPED = {"script", "style", "code", "pre", "kbd", "samp", "textarea"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "source", "track", "wbr"}  # fmt: skip
LABELS = ("aria-label", "title", "placeholder", "alt")


class Unmarked(HTMLParser):
    """The visible texts and labelling attributes of a page that are not (entirely)
    inside ⟦…⟧. A message may hold markup, so the markers are followed across elements."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.depth = 0
        self.found: list[str] = []
        self.head = False

    def handle_starttag(self, tag, attrs):
        if tag == "head":
            self.head = True
        if tag not in VOID:
            self.open.append(tag)
        if self.depth:
            return  # a tag inside a marked message: its attributes are part of it
        attributes = dict(attrs)
        checked = [attributes.get(name) for name in LABELS]
        if tag == "input" and attributes.get("type") in ("submit", "button", "reset"):
            checked.append(attributes.get("value"))
        for value in checked:
            if value and not (value.strip().startswith(OPEN) and value.strip().endswith(CLOSE)):
                self.found.append(value)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.open and self.open[-1] == tag:
            self.open.pop()

    def handle_endtag(self, tag):
        if tag == "head":
            self.head = False
        if tag in self.open:
            while self.open.pop() != tag:
                pass

    def handle_data(self, data):
        skipped = any(tag in SKIPPED for tag in self.open) or (
            self.head and "title" not in self.open
        )
        outside = []
        for piece in re.split(f"([{OPEN}{CLOSE}])", data):
            if piece == OPEN:
                self.depth += 1
            elif piece == CLOSE:
                self.depth = max(self.depth - 1, 0)
            elif not self.depth:
                outside.append(piece)
        if not skipped and "".join(outside).strip():
            self.found.append(" ".join(outside))


def unmarked_html(page: str) -> list[str]:
    walker = Unmarked()
    walker.feed(page)
    walker.close()
    return walker.found


def unmarked_text(text: str) -> list[str]:
    """The same for a plain-text email."""
    depth, found = 0, []
    for line in text.splitlines():
        outside = []
        for piece in re.split(f"([{OPEN}{CLOSE}])", line):
            if piece == OPEN:
                depth += 1
            elif piece == CLOSE:
                depth = max(depth - 1, 0)
            elif not depth:
                outside.append(piece)
        if "".join(outside).strip():
            found.append(" ".join(outside))
    return found


def visible_text(page: str) -> str:
    """The page's text and labelling attributes, markup removed (for the language tests)."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    labels = re.findall(r'(?:aria-label|title|placeholder|alt)="([^"]*)"', text)
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(unescape(" ".join([text, *labels])).split())


# A site with something on every page


@pytest.fixture
def site(drift_host):
    """acme's "Okta" with users, groups, a request log, events, credentials, held and
    rejected removals, a deleted user, drift, domains, a role mapping and an OAuth
    application (drift_host and a few more), and who may see it."""
    connection = drift_host["connection"]
    account = drift_host["account"]
    application, _secret = register()
    directory.set_role_mapping(connection, drift_host["group"], "editor")
    issue_credential(
        connection, label="Okta production", expires_at=timezone.now() + timedelta(days=20)
    )
    directory.delete_user(connection, drift_host["users"]["fine"].pk)
    AccountDomain.objects.create(
        account=account, domain="acme.example", last_checked_at=timezone.now(),
        last_check_error="No TXT record found at _scim-portal.acme.example.",
    )  # fmt: skip
    Connection.objects.filter(pk=connection.pk).update(
        last_request_at=timezone.now() - timedelta(hours=3)
    )
    return {**drift_host, "application": application}


def signed_in(site, who="admin", **headers):
    client = Client(**headers)
    client.force_login(site["people"][who])
    return client


def pages(site):
    """``(url name, who, method, path, data)`` of every page of the Provisioning tab, the
    POST ones followed to the page they answer with."""
    account, connection = "acme", site["connection"]
    pk = connection.pk

    def at(name, *args):
        return reverse(f"scim_portal:portal:{name}", args=[account, *args])

    held = Removal.objects.filter(connection=connection, state="held").first()
    domain = AccountDomain.objects.get(domain="acme.example")
    credential = connection.credentials.filter(label="Okta production").get()
    user, group, log = site["users"]["lost"], site["group"], site["log"]
    deleted = DeletedUser.objects.get(connection=connection)
    create = {"name": "Second", "provider": "okta", "nonce": uuid.uuid4().hex}
    return [
        ("connection-list", "admin", "get", at("connection-list"), None),
        ("connection-list", "auditor", "get", at("connection-list"), None),
        ("connection-create", "admin", "get", at("connection-create"), {"provider": "okta"}),
        ("connection-create", "admin", "post", at("connection-create"),
         {**create, "method": "bearer"}),
        ("connection-create", "admin", "post", at("connection-create"),
         {**create, "name": "Third", "method": "authorization", "nonce": uuid.uuid4().hex}),
        ("domains", "admin", "get", at("domains"), None),
        ("domains", "auditor", "get", at("domains"), None),
        ("domain-verify", "admin", "post", at("domain-verify", domain.pk), {}),
        ("domain-remove", "admin", "get", at("domain-remove", domain.pk), None),
        ("notifications", "admin", "get", at("notifications"), None),
        ("notifications", "auditor", "get", at("notifications"), None),
        ("connection-detail", "admin", "get", at("connection-detail", pk), None),
        ("users", "admin", "get", at("users", pk), None),
        ("users", "admin", "get", at("users", pk), {"q": "nobody-matches"}),
        ("user", "admin", "get", at("user", pk, user.pk), None),
        ("held", "admin", "get", at("held", pk), None),
        ("held", "auditor", "get", at("held", pk), {"show": "rejected"}),
        ("held-confirm", "admin", "get", at("held-confirm", pk),
         {"decision": "approve", "ids": [held.pk]}),
        ("held-confirm", "admin", "get", at("held-confirm", pk),
         {"decision": "reject", "ids": [held.pk]}),
        ("deleted", "admin", "get", at("deleted", pk), None),
        ("restore", "admin", "post", at("restore", pk, deleted.pk), {}),
        ("groups", "admin", "get", at("groups", pk), None),
        ("group", "admin", "get", at("group", pk, group.pk), None),
        ("logs", "admin", "get", at("logs", pk), None),
        ("log", "admin", "get", at("log", pk, log.pk), None),
        ("activity", "admin", "get", at("activity", pk), None),
        ("tokens", "admin", "get", at("tokens", pk), None),
        ("token-rotate", "admin", "post", at("token-rotate", pk),
         {"kind": "bearer", "label": "Rotated", "nonce": uuid.uuid4().hex}),
        ("token-revoke", "admin", "get", at("token-revoke", pk, credential.pk), None),
        ("settings", "admin", "get", at("settings", pk), None),
        ("settings", "auditor", "get", at("settings", pk), None),
        ("connection-delete", "admin", "get", at("connection-delete", pk), None),
        ("drift", "admin", "get", at("drift", pk), None),
        ("drift", "admin", "get", at("drift", pk), {"kind": "held"}),
        ("drift-csv", "admin", "get", at("drift-csv", pk), None),
        ("drift-action", "admin", "post", at("drift-action", pk, "reapply"),
         {"target": str(user.pk), "kind": "membership"}),
    ]  # fmt: skip


def portal_url_names() -> set[str]:
    return {p.name for p in portal_urls.urlpatterns if isinstance(p, URLPattern)}


def fetch(site, who, method, path, data, **headers):
    client = signed_in(site, who, **headers)
    if method == "get":
        return client.get(path, data)
    return client.post(path, data, follow=True)


def is_html(response) -> bool:
    return response["Content-Type"].startswith("text/html")


def test_every_portal_page_has_no_unmarked_message(site, in_pseudo, extracted):
    rendered, found = set(), []
    with dns_settings(f"127.0.0.1:{silent_port()}", timeout=0.2):
        for name, who, method, path, query in pages(site):
            response = fetch(site, who, method, path, query, HTTP_ACCEPT_LANGUAGE=PSEUDO)
            assert response.status_code == 200, (name, path, response.status_code)
            rendered.add(name)
            if not is_html(response):
                continue
            page = response.content.decode()
            assert OPEN in page, f"{name}: the pseudo-locale is not active"
            found += [(f"{name} ({who})", text) for text in unmarked_html(page)]

    # A new page cannot be forgotten: every URL name of the tab was rendered.
    assert rendered == portal_url_names()
    data = Data({entry.msgid for entry in extracted}, site["account"])  # with what POSTs made
    problems = [f"{page}: {text.strip()!r}" for page, text in found if data.leftover(text)]
    assert not problems, "Unmarked text:\n" + "\n".join(dict.fromkeys(problems))


def test_the_oauth_pages_have_no_unmarked_message(site, in_pseudo, extracted):
    application = site["application"]
    authorize = reverse("scim_portal:oauth-authorize")
    client = signed_in(site, HTTP_ACCEPT_LANGUAGE=PSEUDO)
    query = {
        "response_type": "code", "client_id": application.client_id,
        "redirect_uri": application.redirect_uris.split()[0],
    }  # fmt: skip
    consent = client.get(authorize, query, secure=True)
    refused = client.get(authorize, {**query, "redirect_uri": "https://elsewhere.test/"},
                         secure=True)  # fmt: skip
    nobody = signed_in(site, "auditor", HTTP_ACCEPT_LANGUAGE=PSEUDO).get(
        authorize, query, secure=True
    )
    # The OAuth error's description comes from the OAuth library, in English, like the
    # error code it explains (RFC 6749): data here.
    data = Data({e.msgid for e in extracted}, site["account"], [refused.context["description"]])
    problems = [
        f"{name}: {text.strip()!r}"
        for name, response in (("consent", consent), ("error", refused), ("no right", nobody))
        for text in unmarked_html(response.content.decode())
        if data.leftover(text)
    ]
    assert [consent.status_code, nobody.status_code] == [200, 200]
    assert not problems, "Unmarked text:\n" + "\n".join(problems)


def email_contexts(site):
    """Each email kind with a context like the one notifications.py gives it."""
    connection, account = site["connection"], site["account"]
    credential = connection.credentials.filter(label="Okta production").get()
    endpoint = WebhookEndpoint.objects.create(
        account=account, description="Audit sink", url="https://hooks.acme.example/scim"
    )
    held = Removal.objects.filter(connection=connection, state="held").first()
    common = {"account": account, "site_url": "https://saas.example.test"}
    settings_url = "https://saas.example.test/provisioning/acme/notifications/"
    reader = {**common, "recipient": site["people"]["admin"], "settings_url": settings_url}
    now = timezone.now()
    return {
        "credential_expiring": {
            **reader, "connection": connection, "credential": credential,
            "expires_at": credential.expires_at,
            "credentials_url": "https://saas.example.test/c/",
        },
        "connection_failing": {
            **reader, "connection": connection, "health": health.health(connection),
            "logs_url": "https://saas.example.test/l/",
        },
        "connection_silent": {
            **reader, "connection": connection, "last_request_at": now - timedelta(hours=30),
            "silent_after_hours": 24, "connection_url": "https://saas.example.test/c/",
        },
        "removals_held": {
            **reader, "for_deciders": True, "connection": connection, "held_count": 2,
            "first_held_at": held.at, "reason": held.reason,
            "held_url": "https://saas.example.test/h/",
        },
        "deliveries_failing": {
            **common, "recipient": None, "for_vendor": True, "endpoint": endpoint,
            "endpoint_name": "Audit sink", "failing_since": now - timedelta(hours=2),
            "disabled": True,
        },
    }  # fmt: skip


def test_every_email_has_no_unmarked_message(site, in_pseudo, extracted):
    problems = []
    data = Data({entry.msgid for entry in extracted}, site["account"])  # the endpoint too
    with translation.override(PSEUDO):
        # Built in the language too: a health's explanation is words of the app's.
        contexts = email_contexts(site)
        for kind, context in contexts.items():
            base = f"scim_portal/email/{kind}"
            subject = render_to_string(f"{base}_subject.txt", context)
            text = render_to_string(f"{base}_message.txt", context)
            page = render_to_string(f"{base}_message.html", context)
            assert OPEN in subject and OPEN in text and OPEN in page, kind
            found = unmarked_text(subject) + unmarked_text(text) + unmarked_html(page)
            problems += [f"{kind}: {piece.strip()!r}" for piece in found if data.leftover(piece)]
    assert not problems, "Unmarked text:\n" + "\n".join(problems)


def test_the_checker_finds_an_unmarked_message(extracted):
    """The walker itself: markup inside a message is covered, a stray word is not."""
    page = (
        f'<p>{OPEN}Held for <strong>review</strong> on <a href="/x">Okta</a>{CLOSE}</p>'
        f'<button aria-label="Remove Okta">{OPEN}Remove{CLOSE}</button>'
        "<p>Forgotten words</p><code>not a message</code>"
    )
    assert unmarked_html(page) == ["Remove Okta", "Forgotten words"]


# The filters


def test_numbers_are_grouped_in_the_active_language():
    with translation.override("en"):
        assert number(1240) == "1,240"
    with translation.override("de"):
        assert number(1240) == "1.240"
    with translation.override("fr"):
        assert number(1240).replace("\u202f", " ").replace("\xa0", " ") == "1 240"
    assert number(None) == ""


def test_time_ago_is_a_sentence():
    with translation.override("en"):
        now = timezone.now()
        assert ago(now, now) == "just now"
        assert ago(now - timedelta(seconds=1), now) == "1 second ago"
        assert ago(now - timedelta(seconds=20), now) == "20 seconds ago"
        assert ago(timezone.now() - timedelta(hours=3, seconds=5)) == "3\xa0hours ago"
        assert ago(None) == ""


# German and French


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_translation_is_complete(language):
    catalog = committed(language)
    problems = []
    for entry in catalog:
        if entry.obsolete:
            continue
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {entry.msgid!r}")
        wanted = set(PLACEHOLDER.findall(entry.msgid))
        if entry.msgid_plural:
            forms = entry.msgstr_plural
            if not forms or not all(forms.values()):
                problems.append(f"untranslated plural: {entry.msgid!r}")
                continue
            everything = wanted | set(PLACEHOLDER.findall(entry.msgid_plural))
            if any(not set(PLACEHOLDER.findall(form)) <= everything for form in forms.values()):
                problems.append(f"unknown placeholder: {entry.msgid!r}")
            last = forms[max(forms)]
            if set(PLACEHOLDER.findall(last)) != set(PLACEHOLDER.findall(entry.msgid_plural)):
                problems.append(f"placeholders differ: {entry.msgid_plural!r}")
        elif not entry.msgstr:
            problems.append(f"untranslated: {entry.msgid!r}")
        elif set(PLACEHOLDER.findall(entry.msgstr)) != wanted:
            problems.append(f"placeholders differ: {entry.msgid!r} -> {entry.msgstr!r}")
    assert not problems, f"{language}:\n" + "\n".join(problems)


def translations(catalog) -> dict:
    return {
        key(entry): (entry.msgstr, tuple(sorted(entry.msgstr_plural.items())))
        for entry in catalog
        if entry.msgid and not entry.obsolete and "fuzzy" not in entry.flags
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalog_is_the_catalog(language):
    catalog = committed(language)
    compiled = LOCALE / language / "LC_MESSAGES" / "django.mo"
    assert compiled.exists(), f"{compiled} is missing: run compilemessages"
    assert translations(polib.mofile(str(compiled))) == translations(catalog)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalog_is_current(language, extracted):
    catalog = committed(language)
    have = {key(entry) for entry in catalog if not entry.obsolete}
    marked = {key(entry) for entry in extracted}
    assert sorted(marked - have) == [], "marked but not in the catalog: run makemessages"
    assert sorted(have - marked) == [], "in the catalog but no longer marked: --no-obsolete"


def probes(catalog) -> list[str]:
    """Pieces of English that must not appear on a translated page: the longest literal
    part of each message whose translation is different."""
    found = []
    for entry in catalog:
        if entry.obsolete or not entry.msgstr or entry.msgstr == entry.msgid:
            continue
        parts = re.split(r"%\(\w+\)[sd]|<[^>]+>|\{\w*\}", unescape(entry.msgid))
        longest = max((" ".join(part.split()) for part in parts), key=len)
        if len(longest) >= 16 and longest not in unescape(entry.msgstr):
            found.append(longest)
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_page_is_shown_in_the_language_asked_for(site, language):
    english = probes(committed(language))
    problems = []
    with dns_settings(f"127.0.0.1:{silent_port()}", timeout=0.2):
        for name, who, method, path, query in pages(site):
            response = fetch(site, who, method, path, query, HTTP_ACCEPT_LANGUAGE=language)
            assert response.status_code == 200, (name, language)
            if is_html(response):
                shown = visible_text(response.content.decode())
                problems += [f"{name}: {probe!r}" for probe in english if probe in shown]
    assert not problems, f"English on the {language} pages:\n" + "\n".join(problems)


# Without LocaleMiddleware


def without_locale_middleware():
    return [m for m in settings.MIDDLEWARE if m != "django.middleware.locale.LocaleMiddleware"]


def test_without_locale_middleware_the_portal_speaks_language_code(site, in_pseudo, settings):
    """The host may leave LocaleMiddleware out: the portal answers in LANGUAGE_CODE,
    whatever the browser asks for."""
    settings.MIDDLEWARE = without_locale_middleware()
    settings.LANGUAGE_CODE = PSEUDO
    client = signed_in(site, HTTP_ACCEPT_LANGUAGE="de")
    response = client.get(reverse("scim_portal:portal:users", args=["acme", site["connection"].pk]))
    assert response.status_code == 200
    assert wrapped("Search") in response.content.decode()

    settings.LANGUAGE_CODE = "en-us"
    response = client.get(reverse("scim_portal:portal:users", args=["acme", site["connection"].pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert ">Search</button>" in page and OPEN not in page


def test_the_date_formats_follow_the_language(site):
    """A date the portal shows is written the way the visitor's language writes it."""
    credential = site["connection"].credentials.filter(label="Okta production").get()
    url = reverse("scim_portal:portal:tokens", args=["acme", site["connection"].pk])
    for language in ("en", "de", "fr"):
        with translation.override(language):
            day = formats.date_format(timezone.localtime(credential.expires_at), "DATE_FORMAT")
        page = signed_in(site, HTTP_ACCEPT_LANGUAGE=language).get(url).content.decode()
        assert day in unescape(page), (language, day)
