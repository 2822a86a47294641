"""Credentials in the Provisioning tab: the create form asks for the methods each
provider offers, the page after it shows what that provider's form asks for, and the
Credentials tab issues and revokes every kind, each credential then working (or
stopping) against SCIM and the token endpoint."""

import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.contrib.messages import get_messages
from django.test import Client, override_settings

from scim_portal import permissions
from scim_portal.models import Connection, Credential, OAuthApplication, ProvisioningEvent
from scim_portal.providers import PROVIDERS, Value
from scim_portal.provisioning import issue_credential
from scim_portal.provisioning.credentials import record_authorization
from tests.conftest import grant
from tests.factories import UserFactory
from tests.scim_client import basic_auth as basic

pytestmark = pytest.mark.django_db

TOKEN_URL = "/scim/oauth/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def admin(setup):
    client = Client()
    client.force_login(setup["people"]["admin"])
    return client


def shown(page):
    """The copyable fields of a page: ``[(label, id, value)]`` in page order."""
    return re.findall(
        r'<label for="([^"]+)">([^<]+)</label>\s*<div class="sp-copy-row">\s*'
        r'<input type="text" id="\1" value="([^"]*)"',
        page,
    )


def labels(page):
    return [label for _id, label, _value in shown(page)]


def value_of(page, field_id):
    return next(value for id_, _label, value in shown(page) if id_ == field_id)


def field_block(page, name):
    """The markup of form field ``name``: its label, input, help and errors."""
    blocks = re.findall(r'<div class="sp-field[^"]*">((?:(?!</div>).)*)</div>', page, re.S)
    return next(block for block in blocks if f'id="id_{name}"' in block)


def radios(page):
    """The create form's methods: ``[(kind, name, checked)]`` in order."""
    found = re.findall(
        r'<input type="radio" name="method" value="([^"]+)"([^>]*)>\s*([^<]+?)\s*</label>', page
    )
    return [(kind, name, "checked" in attrs) for kind, attrs, name in found]


def disabled_radios(page):
    """The create form's methods that cannot be chosen."""
    found = re.findall(r'<input type="radio" name="method" value="([^"]+)"([^>]*)>', page)
    return [kind for kind, attrs in found if " disabled" in attrs]


def create(client, provider, method, **extra):
    data = {"name": f"{provider} {method}", "provider": provider, "method": method}
    data.update({"nonce": uuid.uuid4().hex, **extra})
    return client.post("/provisioning/acme/new/", data)


def scim_status(client, connection, authorization):
    response = client.get(f"/scim/v2/{connection.pk}/Users", HTTP_AUTHORIZATION=authorization)
    return response.status_code


def token_response(client, client_id, secret):
    return client.post(
        TOKEN_URL,
        {"grant_type": "client_credentials", "scope": "scim"},
        HTTP_AUTHORIZATION=basic(client_id, secret),
        secure=True,
    )


# The create form


@pytest.mark.parametrize("key", list(PROVIDERS))
def test_the_create_form_asks_for_exactly_the_providers_methods_in_its_order(admin, key):
    provider = PROVIDERS[key]
    page = admin.get("/provisioning/acme/new/", {"provider": key}).content.decode()
    assert re.search(rf'<option value="{key}" selected>', page)
    expected = [(m.kind, m.name, m.kind == provider.recommended) for m in provider.methods]
    assert radios(page) == expected
    federated = provider.method("federated")
    asked = re.findall(r'<label for="id_(issuer|subject|audience|jwks_url)">([^<]+)</label>', page)
    if federated is None:
        assert asked == []
    else:
        assert asked == [
            (field.value, field.label + (" (optional)" if field.optional else ""))
            for field in federated.shows
        ]
        audience = re.search(r'name="audience" value="([^"]*)"', page)[1]
        assert audience == "http://testserver/scim/oauth/token"
    authorization = provider.method("authorization")
    if authorization is None:
        assert "authorization code" not in page
    else:  # offered in its order, but not until the vendor registers an application
        assert [(m[0]) for m in radios(page)] == ["basic", "bearer", "authorization"]
        assert disabled_radios(page) == ["authorization"]
        assert "the vendor has not registered an OAuth application" in page


def test_choosing_another_provider_redraws_the_form_without_creating(admin):
    response = admin.post(
        "/provisioning/acme/new/",
        {"name": "Entra EU", "provider": "entra", "nonce": "n1", "refresh": "1"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert [kind for kind, _name, _checked in radios(page)] == [
        "client_secret",
        "federated",
        "bearer",
    ]
    assert 'value="Entra EU"' in page and 'value="n1"' in page
    assert not Connection.objects.filter(name="Entra EU").exists()


def test_the_redraw_button_and_the_method_fields_are_marked_for_the_script(admin):
    page = admin.get("/provisioning/acme/new/", {"provider": "entra"}).content.decode()
    assert 'data-refresh="sp-refresh"' in page and 'id="sp-refresh"' in page
    assert page.count("data-method-choice") == 3
    assert 'data-method-fields="federated"' in page


# The page that shows a new credential once


def issuable_methods():
    return [
        (key, method.kind)
        for key, provider in PROVIDERS.items()
        for method in provider.issuable_methods
        if method.kind != "federated"
    ]


@pytest.mark.parametrize(("key", "kind"), issuable_methods())
def test_creating_shows_exactly_the_providers_fields_once_and_the_credential_works(
    admin, key, kind, caplog
):
    provider = PROVIDERS[key]
    method = provider.method(kind)
    caplog.set_level("DEBUG")
    response = create(admin, key, kind)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "shown only once" in page
    assert labels(page) == [field.label for field in method.fields]
    connection = Connection.objects.get(name=f"{key} {kind}")
    credential = Credential.objects.get(connection=connection)
    assert credential.kind == kind
    scim_url = f"http://testserver/scim/v2/{connection.pk}{provider.url_suffix}"
    assert value_of(page, "scim-url") == scim_url
    for index, field in enumerate(method.fields):
        if field.value == Value.FIXED:
            assert value_of(page, f"scim-fixed-{index}") == field.text
    if kind == "bearer":
        secret = value_of(page, "scim-token")
        assert scim_status(admin, connection, f"Bearer {secret}") == 200
    elif kind == "basic":
        username, secret = value_of(page, "scim-username"), value_of(page, "scim-password")
        assert username == credential.username
        assert scim_status(admin, connection, basic(username, secret)) == 200
    else:
        secret = value_of(page, "scim-client-secret")
        client_id = value_of(page, "scim-client-id")
        assert client_id == connection.oauth_client_id
        assert value_of(page, "scim-token-endpoint") == "http://testserver/scim/oauth/token"
        access = token_response(admin, client_id, secret).json()["access_token"]
        assert scim_status(admin, connection, f"Bearer {access}") == 200
    events = ProvisioningEvent.objects.filter(connection=connection).order_by("number")
    issued = "token.issued" if kind == "bearer" else "credential.issued"
    assert [event.type for event in events] == ["connection.created", issued]
    assert events[1].actor["via"] == "portal" and events[1].changes["kind"] == kind
    assert secret not in caplog.text and secret not in json.dumps(
        list(events.values()), default=str
    )
    for url in ("/", "/tokens/", "/settings/"):
        assert secret not in admin.get(f"/provisioning/acme/{connection.pk}{url}").content.decode()


def test_creating_defaults_to_the_providers_recommended_method(admin):
    response = admin.post(
        "/provisioning/acme/new/",
        {"name": "Entra", "provider": "entra", "nonce": uuid.uuid4().hex},
    )
    assert response.status_code == 200
    assert Credential.objects.get(connection__name="Entra").kind == "client_secret"
    assert labels(response.content.decode())[:4] == [
        "Tenant URL",
        "Token Endpoint",
        "Client Identifier",
        "Client Secret",
    ]


def test_a_create_that_failed_midway_may_be_sent_again(admin, monkeypatch):
    """The double-submit guard holds a form only once it has created something."""
    from django.db import OperationalError

    from scim_portal.portal import credentials as pages

    def down(**kwargs):
        raise OperationalError("the database went away")

    form = {"name": "Entra", "provider": "entra", "nonce": uuid.uuid4().hex}
    monkeypatch.setattr(pages, "create_connection", down)
    admin.raise_request_exception = False
    assert admin.post("/provisioning/acme/new/", form).status_code == 500
    monkeypatch.undo()
    again = admin.post("/provisioning/acme/new/", form)
    assert again.status_code == 200
    assert Connection.objects.filter(name="Entra").count() == 1


# Federated issuers, with a JWKS the test serves


class Issuer:
    """A federated issuer: a key pair, and its JWKS served on 127.0.0.1."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        keys = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig"}]}).encode()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                document = keys
                if self.path.endswith("/.well-known/openid-configuration"):
                    configuration = {"issuer": issuer.url, "jwks_uri": issuer.url + "/keys"}
                    document = json.dumps(configuration).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def assertion(self, subject, audience):
        now = int(time.time())
        claims = {"iss": self.url, "sub": subject, "aud": audience, "iat": now,
                  "exp": now + 300, "jti": uuid.uuid4().hex}  # fmt: skip
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def issuer():
    federation = {"FEDERATION_ALLOW_HTTP": True, "FEDERATION_ALLOW_PRIVATE_NETWORKS": True}
    with override_settings(SCIM_PORTAL={**settings.SCIM_PORTAL, **federation}):
        issuer = Issuer()
        yield issuer
        issuer.server.shutdown()


def assertion_token(client, issuer, connection, subject, audience):
    return client.post(
        TOKEN_URL,
        {
            "grant_type": "client_credentials",
            "client_id": connection.oauth_client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": issuer.assertion(subject, audience),
        },
        secure=True,
    )


@pytest.mark.parametrize("key", ["entra", "generic"])
def test_creating_with_a_federated_issuer_shows_what_to_give_the_provider(admin, issuer, key):
    method = PROVIDERS[key].method("federated")
    audience = "http://testserver/scim/oauth/token"
    response = create(
        admin, key, "federated", issuer=issuer.url, subject="sync-fabric", audience=audience,
        jwks_url=issuer.url + "/keys",
    )  # fmt: skip
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "No secret exists for this method" in page
    shown_labels = [field.label for field in method.fields] + [f.label for f in method.shows]
    assert labels(page) == shown_labels
    connection = Connection.objects.get(name=f"{key} federated")
    assert value_of(page, "scim-client-id") == connection.oauth_client_id
    assert value_of(page, "scim-subject") == "sync-fabric"
    answer = assertion_token(admin, issuer, connection, "sync-fabric", audience)
    assert answer.status_code == 200, answer.content
    access = answer.json()["access_token"]
    assert scim_status(admin, connection, f"Bearer {access}") == 200


def test_a_federated_issuer_needs_its_issuer_subject_and_audience(admin):
    response = create(admin, "entra", "federated", issuer="", subject="", audience="")
    assert response.status_code == 400
    page = response.content.decode()
    for name in ("issuer", "subject", "audience"):
        assert "This field is required." in field_block(page, name)
    assert "This field is required." not in field_block(page, "jwks_url")
    assert not Connection.objects.filter(name="entra federated").exists()


def test_a_refused_issuer_is_explained_at_its_field_and_the_form_can_be_sent_again(admin):
    data = {"issuer": "http://issuer.example", "subject": "s", "audience": "a"}
    nonce = uuid.uuid4().hex
    response = create(admin, "generic", "federated", nonce=nonce, **data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "The issuer must be an https:// URL." in field_block(page, "issuer")
    assert not Connection.objects.filter(name="generic federated").exists()
    data["issuer"] = "https://issuer.example"
    assert create(admin, "generic", "federated", nonce=nonce, **data).status_code == 200


# The Credentials tab


def issue(client, base, kind, **extra):
    data = {"kind": kind, "label": f"{kind} 2026", "nonce": uuid.uuid4().hex, **extra}
    return client.post(base + "/tokens/rotate/", data)


@pytest.mark.parametrize("kind", ["bearer", "basic", "client_secret"])
def test_issuing_each_kind_keeps_the_others_working_and_revoking_ends_it(admin, setup, base, kind):
    connection, old = setup["connection"], setup["token"]
    response = issue(admin, base, kind)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "Older credentials keep working" in page
    method = connection.provider_info.method_or_generic(kind)
    assert labels(page) == [field.label for field in method.fields]
    credential = Credential.objects.get(connection=connection, label=f"{kind} 2026")
    if kind == "bearer":
        authorization = f"Bearer {value_of(page, 'scim-token')}"
    elif kind == "basic":
        authorization = basic(value_of(page, "scim-username"), value_of(page, "scim-password"))
    else:
        connection.refresh_from_db()
        secret = value_of(page, "scim-client-secret")
        answer = token_response(admin, connection.oauth_client_id, secret)
        authorization = f"Bearer {answer.json()['access_token']}"
    assert scim_status(admin, connection, authorization) == 200
    assert Credential.objects.get(pk=old.pk).is_usable

    event = ProvisioningEvent.objects.filter(connection=connection).latest("number")
    assert event.type == ("token.issued" if kind == "bearer" else "credential.issued")
    assert event.actor["username"] == "admin" and event.changes["label"] == f"{kind} 2026"

    listing = admin.get(base + "/tokens/").content.decode()
    assert credential.display in listing and f"{kind} 2026" in listing
    confirm = admin.get(base + f"/tokens/{credential.pk}/revoke/")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    assert Credential.objects.get(pk=credential.pk).is_usable  # asking revokes nothing
    done = admin.post(base + f"/tokens/{credential.pk}/revoke/")
    assert done.status_code == 302 and done["Location"] == base + "/tokens/"
    [message] = [str(message) for message in get_messages(done.wsgi_request)]
    name = method.name if connection.provider_info.method(kind) else credential.get_kind_display()
    assert message == f"Revoked {name} {credential.display}; it stopped working at once."
    assert scim_status(admin, connection, authorization) == 401
    if kind == "client_secret":
        assert token_response(admin, connection.oauth_client_id, secret).status_code == 401
    event = ProvisioningEvent.objects.filter(connection=connection).latest("number")
    assert event.type == ("token.revoked" if kind == "bearer" else "credential.revoked")
    assert "Revoked" in admin.get(base + "/tokens/").content.decode()


def test_issuing_a_federated_issuer_from_the_credentials_tab(admin, setup, base, issuer):
    connection = setup["connection"]
    fields = {"issuer": issuer.url, "subject": "okta-workload", "audience": "scim-app"}
    response = issue(admin, base, "federated", **fields)
    assert response.status_code == 200
    page = response.content.decode()
    method = PROVIDERS["generic"].method("federated")  # Okta has no federated method
    assert labels(page) == [f.label for f in method.fields] + [f.label for f in method.shows]
    connection.refresh_from_db()
    answer = assertion_token(admin, issuer, connection, "okta-workload", "scim-app")
    assert answer.status_code == 200, answer.content
    event = ProvisioningEvent.objects.filter(connection=connection).latest("number")
    assert (event.type, event.changes["issuer"]) == ("credential.issued", issuer.url)

    credential = Credential.objects.get(connection=connection, kind="federated")
    admin.post(base + f"/tokens/{credential.pk}/revoke/")
    answer = assertion_token(admin, issuer, connection, "okta-workload", "scim-app")
    assert answer.json()["error"] == "invalid_client"  # RFC 6749 5.2: 400 without a header


def test_the_issue_form_offers_the_providers_methods_first_then_the_others(admin, setup):
    page = admin.get(f"/provisioning/acme/{setup['connection'].pk}/tokens/").content.decode()
    select = re.search(r'<select name="kind".*?</select>', page, re.S)[0]
    assert re.findall(r'<optgroup label="([^"]+)">', select) == ["Okta", "Other SCIM clients"]
    assert re.findall(r'<option value="([^"]+)"', select) == [
        "basic",
        "bearer",
        "client_secret",
        "federated",
    ]
    assert re.search(r'<option value="bearer" selected>HTTP Header</option>', select)


def test_the_credentials_tab_lists_every_kind_and_the_oauth_client(admin, setup, base):
    connection = setup["connection"]
    issue_credential(connection, "basic", label="Okta basic", created_by=setup["people"]["admin"])
    page = admin.get(base + "/tokens/").content.decode()
    assert "<h2>Credentials</h2>" in page and ">Credentials</a>" in page
    assert 'aria-current="page">Credentials' in page
    assert 'id="oauth-client-heading"' not in page  # no client secret or federated issuer yet
    basic_credential = Credential.objects.get(kind="basic")
    cells = (
        rf"<tr>\s*<td>Basic Auth</td>\s*<td><code>{basic_credential.username}</code></td>"
        r"\s*<td>Okta basic</td>\s*<td>[^<]*by admin</td>"
    )
    assert re.search(cells, page)
    assert "HTTP Header" in page and "never" in page and "<strong>Active</strong>" in page

    issue_credential(connection, "client_secret", label="later")
    connection.refresh_from_db()
    page = admin.get(base + "/tokens/").content.decode()
    assert value_of(page, "scim-client-id") == connection.oauth_client_id
    assert value_of(page, "scim-token-endpoint") == "http://testserver/scim/oauth/token"
    assert "Access tokens live 60 minutes" in page
    detail = admin.get(base + "/").content.decode()
    assert value_of(detail, "scim-client-id") == connection.oauth_client_id


def test_an_okta_authorisation_is_listed_explained_and_revocable(admin, setup, base):
    application = OAuthApplication(name="Acme for Okta", redirect_uris="https://o.example/cb")
    application.set_secret()
    application.save()
    page = admin.get(base + "/tokens/").content.decode()
    assert "OAuth 2 (authorization code): authorised from Okta" in page
    assert f'Acme for Okta <span class="sp-muted">(Client ID <code>{application.client_id}' in page
    credential = record_authorization(setup["connection"], application, setup["people"]["admin"])
    page = admin.get(base + "/tokens/").content.decode()
    assert re.search(r"<td>OAuth 2</td>\s*<td><code>Acme for Okta</code></td>", page)
    assert admin.post(base + f"/tokens/{credential.pk}/revoke/").status_code == 302
    assert Credential.objects.get(pk=credential.pk).is_revoked
    event = ProvisioningEvent.objects.filter(connection=setup["connection"]).latest("number")
    assert (event.type, event.changes["kind"]) == ("credential.revoked", "authorization")


def test_revoking_the_last_usable_credential_warns_first(admin, setup, base):
    token = setup["token"]
    page = admin.get(base + f"/tokens/{token.pk}/revoke/").content.decode()
    assert "last usable credential" in page
    issue_credential(setup["connection"], "basic")
    page = admin.get(base + f"/tokens/{token.pk}/revoke/").content.decode()
    assert "last usable credential" not in page


def test_an_issue_with_an_expiry_in_the_past_frees_its_form_key(admin, base):
    nonce = uuid.uuid4().hex
    data = {"kind": "basic", "expires_at": "2001-01-01T00:00", "nonce": nonce}
    response = admin.post(base + "/tokens/rotate/", data)
    assert response.status_code == 400 and "future" in response.content.decode()
    data["expires_at"] = "2999-01-01T00:00"
    assert admin.post(base + "/tokens/rotate/", data).status_code == 200
    again = admin.post(base + "/tokens/rotate/", data)  # the browser re-submits
    assert again.status_code == 302
    assert Credential.objects.filter(kind="basic").count() == 1


# Permissions


def test_a_member_without_create_may_neither_create_nor_issue(setup, base):
    auditor = Client()
    auditor.force_login(setup["people"]["auditor"])
    assert create(auditor, "entra", "client_secret").status_code == 403
    for kind in ("bearer", "basic", "client_secret", "federated"):
        assert issue(auditor, base, kind).status_code == 403
    assert not Connection.objects.filter(name="entra client_secret").exists()
    assert Credential.objects.filter(connection=setup["connection"]).count() == 1
    page = auditor.get(base + "/tokens/").content.decode()
    assert "Issue credential" not in page and "Revoke" not in page


def test_revoking_needs_delete(setup, base):
    creator = Client()
    person = grant(UserFactory(), setup["account"], permissions.READ, permissions.CREATE)
    creator.force_login(person)
    token = setup["token"]
    assert creator.get(base + f"/tokens/{token.pk}/revoke/").status_code == 403
    assert creator.post(base + f"/tokens/{token.pk}/revoke/").status_code == 403
    assert Credential.objects.get(pk=token.pk).is_usable


def test_another_accounts_connection_and_credentials_are_404(admin, setup):
    other = setup["other_connection"]
    theirs = Credential.objects.get(connection=other)
    other_base = f"/provisioning/acme/{other.pk}"
    assert admin.get(other_base + "/tokens/").status_code == 404
    assert issue(admin, other_base, "basic").status_code == 404
    assert admin.get(other_base + f"/tokens/{theirs.pk}/revoke/").status_code == 404
    assert admin.post(other_base + f"/tokens/{theirs.pk}/revoke/").status_code == 404
    own_base = f"/provisioning/acme/{setup['connection'].pk}"
    assert admin.get(own_base + f"/tokens/{theirs.pk}/revoke/").status_code == 404
    assert admin.post(own_base + f"/tokens/{theirs.pk}/revoke/").status_code == 404
    assert Credential.objects.get(pk=theirs.pk).is_usable
    assert Credential.objects.filter(connection=other).count() == 1


def test_issuing_and_revoking_need_csrf(setup, base):
    client = Client(enforce_csrf_checks=True)
    client.force_login(setup["people"]["admin"])
    token = setup["token"]
    assert issue(client, base, "basic").status_code == 403
    assert client.post(base + f"/tokens/{token.pk}/revoke/").status_code == 403
    assert create(client, "entra", "client_secret").status_code == 403
    assert Credential.objects.count() == 2  # the two of the fixture
    assert Credential.objects.get(pk=token.pk).is_usable


# Settings


def test_the_access_token_lifetime_is_a_setting_audited_and_used(admin, setup, base):
    connection = setup["connection"]
    issued = issue_credential(connection, "client_secret")
    connection.refresh_from_db()
    form = {"form": "settings", "name": "Okta", "default_role": "", "link_policy": "verified_email",
            "deprovision_policy": "deactivate", "out_of_domain_policy": "flag"}  # fmt: skip
    page = admin.get(base + "/settings/").content.decode()
    assert re.search(r'name="access_token_lifetime" value="60"', page)
    for minutes in ("4", "361"):
        refused = admin.post(base + "/settings/", {**form, "access_token_lifetime": minutes})
        assert refused.status_code == 400
    assert (
        admin.post(base + "/settings/", {**form, "access_token_lifetime": "120"}).status_code == 302
    )
    event = ProvisioningEvent.objects.filter(connection=connection).latest("number")
    assert event.type == "connection.updated"
    assert event.changes == {"access_token_lifetime": {"old": 3600, "new": 7200}}
    assert event.actor["via"] == "portal"
    answer = token_response(admin, connection.oauth_client_id, issued.raw)
    assert answer.json()["expires_in"] == 7200
    assert "access token lifetime: 3600 → 7200" in admin.get(base + "/activity/").content.decode()
