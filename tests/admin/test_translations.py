"""Every word the app's own admin pages show is marked for translation.

A pseudo-translation of everything marked (each message wrapped in ⟦…⟧) is compiled as the
German catalog; each page the app adds to Django admin is rendered in German, and every
text left on it must be wrapped, be German from Django's own catalog, or be data.
"""

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import override_settings

import scim_portal
from scim_portal.delivery import endpoints
from scim_portal.models import Credential, EnvironmentKey, OAuthApplication
from scim_portal.providers import PROVIDERS
from scim_portal.provisioning import issue_credential
from tests.admin.test_dashboard import connection_in
from tests.testapp.models import Organization

pytestmark = pytest.mark.django_db
OPEN, CLOSE = "⟦", "⟧"
DJANGO = Path(__import__("django").__file__).parent
#: Elements whose text is data or code, never words to translate.
VERBATIM = {"code", "pre", "kbd", "samp", "script", "style", "time"}
#: Attributes people read.
READ_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt"}


@pytest.fixture(scope="module")
def pseudo_locale(tmp_path_factory):
    """A LOCALE_PATHS directory whose German catalog wraps every message of the app."""
    package = tmp_path_factory.mktemp("package") / "scim_portal"
    shutil.copytree(Path(scim_portal.__file__).parent, package, ignore=shutil.ignore_patterns(
        "locale", "__pycache__", "static", "migrations",
    ))  # fmt: skip
    (package / "locale").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(package)
        call_command("makemessages", locale=["de"], verbosity=0, no_obsolete=True)
    catalog = polib.pofile(str(package / "locale/de/LC_MESSAGES/django.po"))
    catalog.metadata["Plural-Forms"] = "nplurals=2; plural=(n != 1);"
    for entry in catalog:
        entry.flags = [flag for flag in entry.flags if flag != "fuzzy"]
        if entry.msgid_plural:
            entry.msgstr_plural = {
                0: f"{OPEN}{entry.msgid}{CLOSE}", 1: f"{OPEN}{entry.msgid_plural}{CLOSE}",
            }  # fmt: skip
        else:
            entry.msgstr = f"{OPEN}{entry.msgid}{CLOSE}"
    target = tmp_path_factory.mktemp("locale")
    (target / "de/LC_MESSAGES").mkdir(parents=True)
    catalog.save_as_mofile(str(target / "de/LC_MESSAGES/django.mo"))
    return target


WORD = re.compile(r"[^\W\d_]{2,}")
WRAPPED = re.compile(rf"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")
#: Django admin's own English, in its templates rather than its catalog.
#: Django 6.0's "Pagination %(name)s" and 6.1's blank choice, not in its German catalog yet.
DJANGO_VERBATIM = {
    "Search", "Pagination", "- Select an option -",
    # The app index's link labels on Django 5.2.0 (the lowest bound), whose German catalog
    # did not have them yet.
    "Add link", "Change or view list link",
}  # fmt: skip


@pytest.fixture(scope="module")
def known_words():
    """Words a page may show unwrapped: Django's own German (its admin's words are its
    own), and the models' names, fields, help texts and choices, which cannot be marked without
    migrations (Django's autodetector sees an explicit ``verbose_name`` as a change) and
    belong to the models."""
    said = set(DJANGO_VERBATIM)
    for path in (DJANGO / "conf/locale/de/LC_MESSAGES/django.po",
                 DJANGO / "contrib/admin/locale/de/LC_MESSAGES/django.po",
                 DJANGO / "contrib/auth/locale/de/LC_MESSAGES/django.po"):  # fmt: skip
        for entry in polib.pofile(str(path)):
            said.update([entry.msgstr, *entry.msgstr_plural.values()])
    config = apps.get_app_config("scim_portal")
    said.add(str(config.verbose_name))
    for model in config.get_models():
        said.update([str(model._meta.verbose_name), str(model._meta.verbose_name_plural)])
        for field in model._meta.get_fields():
            said.add(str(getattr(field, "verbose_name", "")))
            said.add(str(getattr(field, "help_text", "")))
            said.update(str(label) for _, label in getattr(field, "flatchoices", None) or ())
    said.update(provider.name for provider in PROVIDERS.values())
    # The event types' names ("user.deactivated"): identifiers a receiver subscribes to.
    said.update(word for name in endpoints.EVENT_TYPES for word in name.split("."))
    return {word.lower() for text in said for word in WORD.findall(text)}


class Texts(HTMLParser):
    """The visible text inside ``#content`` (text nodes joined by NUL, verbatim elements
    as a space, so a message around an inline ``<code>`` stays whole), and the read
    attributes."""

    def __init__(self):
        super().__init__()
        self.depth = 0  # inside #content when > 0
        self.verbatim = 0
        self.text = []
        self.attributes = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.depth:
            self.depth += tag not in {"input", "br", "img", "meta", "link", "hr"}
        elif attrs.get("id") == "content":
            self.depth = 1
        if not self.depth:
            return
        self.verbatim += tag in VERBATIM
        self.attributes += [attrs[name] for name in READ_ATTRIBUTES & attrs.keys()]
        if tag == "input" and attrs.get("type") == "submit" and attrs.get("value"):
            self.attributes.append(attrs["value"])

    def handle_endtag(self, tag):
        if self.depth:
            self.verbatim -= tag in VERBATIM and self.verbatim > 0
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text.append(" " if self.verbatim else data)


def unmarked(page, data, known_words):
    """What ``page`` shows that is neither wrapped, nor known words, nor ``data``."""
    parser = Texts()
    parser.feed(page)
    left = []
    for text in ["\0".join(parser.text), *parser.attributes]:
        while WRAPPED.search(text):
            text = WRAPPED.sub(" ", text)
        for value in sorted(data, key=len, reverse=True):
            text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", " ", text)
        # Identifiers, URLs, secrets' prefixes, ids: anything with a digit, _, / or :.
        text = re.sub(r"[^\s\0]*[\d_/:][^\s\0]*", " ", text)
        for fragment in text.split("\0"):
            if any(word.lower() not in known_words for word in WORD.findall(fragment)):
                left.append(fragment.strip())
    return left


@pytest.fixture
def pages(staff, setup):
    """Every page the app adds to Django admin (GET and what the POSTs show), with the
    data values they may show."""
    connection = setup["connection"]
    expiring = connection_in("expiring")
    credential = Credential.objects.filter(connection=connection).first()
    application = OAuthApplication(name="OIN app", redirect_uris="https://o.example/cb")
    application.set_secret()
    application.save()
    endpoint, _ = endpoints.add_endpoint(format="set", method="poll")
    base, hooks = "/admin/scim_portal/connection", "/admin/scim_portal/webhookendpoint"
    gets = [
        f"{base}/dashboard/", f"{base}/", f"{base}/?health=failing", "/admin/scim_portal/",
        f"{base}/{connection.pk}/issue-credential/", f"{base}/{connection.pk}/issue-token/",
        f"{base}/{connection.pk}/credentials/{credential.pk}/revoke/",
        f"{base}/{connection.pk}/delete/",
        f"/admin/scim_portal/oauthapplication/{application.pk}/regenerate-secret/",
        f"/admin/scim_portal/oauthapplication/{application.pk}/revoke/",
        f"{hooks}/{endpoint.pk}/rotate-secret/", f"{hooks}/{endpoint.pk}/send-test/",
        f"{hooks}/{endpoint.pk}/pause/", f"{hooks}/{endpoint.pk}/resume/",
        f"{hooks}/{endpoint.pk}/replay/", f"{hooks}/{endpoint.pk}/change/",
        f"{base}/{connection.pk}/change/",
        f"/admin/scim_portal/oauthapplication/{application.pk}/change/",
        *(f"/admin/scim_portal/{model}/" for model in (
            "requestlog", "removal", "deleteduser", "accountdomain", "environmentkey",
            "webhookendpoint", "deliveryattempt", "oauthapplication",
        )),
    ]  # fmt: skip
    posts = [
        (f"{base}/{connection.pk}/issue-token/", {"label": "staff"}),
        (f"{base}/{expiring.pk}/issue-credential/", {"kind": "basic"}),
        (f"{base}/{connection.pk}/issue-credential/", {
            "kind": "federated", "issuer": "https://login.example/t", "subject": "s",
            "audience": "a",
        }),
        ("/admin/scim_portal/environmentkey/add/", {"name": "ci"}),
        (f"/admin/scim_portal/oauthapplication/{application.pk}/regenerate-secret/", {}),
        (f"{hooks}/{endpoint.pk}/rotate-secret/", {"overlap_hours": "2"}),
        (f"{hooks}/{endpoint.pk}/rotate-secret/", {"overlap_hours": "2"}),
        (f"{hooks}/{endpoint.pk}/pause/", {}),
        (f"{base}/{connection.pk}/credentials/{credential.pk}/revoke/", {}),
        (f"/admin/scim_portal/oauthapplication/{application.pk}/revoke/", {}),
        (f"{base}/{expiring.pk}/delete/", {"remove_directory": "on"}),
    ]  # fmt: skip
    issue_credential(connection, "client_secret")

    def render():
        rendered = {}
        for url in gets:
            rendered[url] = staff.get(url, HTTP_ACCEPT_LANGUAGE="de").content.decode()
        for url, data in posts:
            # Followed: a redirect's message is shown on the next page.
            answer = staff.post(url, data, HTTP_ACCEPT_LANGUAGE="de", follow=True)
            rendered[f"POST {url}"] = answer.content.decode()
        return rendered

    values = {
        connection.name, expiring.name, setup["other_connection"].name, "acme", "globex",
        str(setup["account"]), "Okta", "Microsoft Entra ID", "OIN app", "ci", "staff",
        str(endpoint), "ms", "SCIM", "URL", "OAuth", "JWT", "RFC", "JWKS", "iss", "sub", "aud",
        "Standard Webhooks", "Bearer", "Basic", "id", "https://login.example/t",
        "GET", "Initial token",
    }  # fmt: skip
    values |= {str(c) for c in Credential.objects.all()}
    return render, values


def test_every_admin_page_of_the_app_is_translated(pages, pseudo_locale, known_words):
    render, data = pages
    with override_settings(LOCALE_PATHS=[str(pseudo_locale)]):
        rendered = render()
        data |= {str(c) for c in Credential.objects.all()}
        data |= {key.name for key in EnvironmentKey.objects.all()}
    data |= {str(account) for account in Organization.objects.all()}
    left = {url: unmarked(page, data, known_words) for url, page in rendered.items()}
    problems = {url: texts for url, texts in left.items() if texts}
    assert not problems, "\n".join(f"{url}: {texts}" for url, texts in problems.items())
    # The pseudo catalog was in use: the dashboard's own words are wrapped.
    dashboard = rendered["/admin/scim_portal/connection/dashboard/"]
    assert f"{OPEN}Connections by health{CLOSE}" in dashboard
