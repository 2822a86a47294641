"""Creating a connection for Okta's OAuth 2 (authorization code) in the Provisioning tab:
no credential is issued, the next page says what Okta's form asks for and where the
Client ID and Client Secret come from, and the connection waits for Okta's
authorisation, which then opens SCIM."""

import html
import re
import uuid
from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client

from scim_portal.models import Connection, Credential, ProvisioningEvent
from scim_portal.providers import PROVIDERS
from scim_portal.provisioning import revoke_application
from tests.oauth.test_authorization_code import OKTA, exchange, query_of, register, scim_status
from tests.portal.test_credentials import disabled_radios, labels, radios, shown, value_of

pytestmark = pytest.mark.django_db

NEW = "/provisioning/acme/new/"


@pytest.fixture
def admin(setup):
    client = Client()
    client.force_login(setup["people"]["admin"])
    return client


@pytest.fixture
def application():
    return register()


def create(client, name="Okta OAuth", method="authorization", provider="okta"):
    data = {"name": name, "provider": provider, "method": method, "nonce": uuid.uuid4().hex}
    return client.post(NEW, data)


def legends(page):
    return re.findall(r"<legend>([^<]+)</legend>", page)


def hinted_url(page):
    """The authorize URL naming the new connection, as the page offers it."""
    return html.unescape(re.search(r"you may enter <code>([^<]+)</code> instead", page)[1])


def test_okta_offers_oauth_2_in_its_order_once_the_vendor_has_an_application(admin, application):
    page = admin.get(NEW, {"provider": "okta"}).content.decode()
    expected = [(m.kind, m.name, m.kind == "bearer") for m in PROVIDERS["okta"].methods]
    assert radios(page) == expected
    assert expected[-1][:2] == ("authorization", "OAuth 2")
    assert disabled_radios(page) == []
    assert "has not registered an OAuth application" not in page


def test_oauth_2_creates_a_connection_without_a_credential_and_shows_what_okta_asks_for(
    admin, setup, application
):
    app, secret = application
    response = create(admin)
    assert response.status_code == 200
    page = response.content.decode()
    connection = Connection.objects.get(account=setup["account"], name="Okta OAuth")
    assert connection.provider == "okta"
    assert not Credential.objects.filter(connection=connection).exists()
    events = ProvisioningEvent.objects.filter(connection=connection)
    assert [event.type for event in events] == ["connection.created"]
    assert events[0].actor_user == setup["people"]["admin"]

    # Okta's fields, in its order and with its labels, then the vendor's application.
    assert labels(page) == [
        "SCIM connector base URL",
        "Access token endpoint URI",
        "Authorization endpoint URI",
        app.name,
    ]
    assert value_of(page, "scim-url") == f"http://testserver/scim/v2/{connection.pk}"
    assert value_of(page, "scim-token-endpoint") == "http://testserver/scim/oauth/token"
    assert value_of(page, "scim-authorize-endpoint") == "http://testserver/scim/oauth/authorize"
    assert legends(page)[:2] == ["Client ID", "Client Secret"]
    assert page.index("Authorization endpoint URI") < page.index("<legend>Client ID")
    assert [value for _id, _label, value in shown(page)][-1] == app.client_id
    assert hinted_url(page) == (
        f"http://testserver/scim/oauth/authorize?connection={connection.pk}"
    )
    assert "Authenticate with …" in page
    assert "Connection created: OAuth 2" in page
    # Never a secret: not the application's, and none issued for the connection.
    assert secret not in page
    assert not re.search(r"scim(p|pw|cs|as|at|rt)_", page)

    overview = admin.get(f"/provisioning/acme/{connection.pk}/").content.decode()
    assert "Waiting for authorisation" in overview
    assert "No usable credential" not in overview


def test_a_revoked_application_is_not_offered_on_the_page(admin, application):
    revoked, _ = register(name="Old app")
    revoke_application(revoked)
    page = create(admin).content.decode()
    assert "Old app" not in page and revoked.client_id not in page
    assert application[0].client_id in page


def test_without_an_application_oauth_2_is_shown_disabled_and_cannot_be_chosen(admin, setup):
    app, _ = register()
    revoke_application(app)  # a revoked application counts as none
    page = admin.get(NEW, {"provider": "okta"}).content.decode()
    assert disabled_radios(page) == ["authorization"]
    assert ("authorization", "OAuth 2", False) in radios(page)
    assert re.search(
        r'aria-describedby="id_method_2_note"[^>]*>\s*OAuth 2</label>\s*'
        r'<p class="sp-help" id="id_method_2_note">Not available yet: the vendor has not '
        r"registered an OAuth application.</p>",
        page,
    )
    assert 'data-method-fields="authorization"' not in page

    response = create(admin)
    assert response.status_code == 400
    assert "The vendor has not registered an OAuth application yet" in response.content.decode()
    assert not Connection.objects.filter(name="Okta OAuth").exists()


def test_other_providers_do_not_offer_an_authorisation(admin, application):
    for key, provider in PROVIDERS.items():
        if provider.method("authorization") is None:
            page = admin.get(NEW, {"provider": key}).content.decode()
            assert "authorization" not in [kind for kind, _name, _checked in radios(page)]
            response = create(admin, name=f"{key} oauth", provider=key)
            assert response.status_code == 400, key
            assert not Connection.objects.filter(name=f"{key} oauth").exists()


@pytest.mark.parametrize("person", ["auditor", "member", "other_admin"])
def test_a_person_without_the_create_permission_cannot_create_one(setup, application, person):
    client = Client()
    client.force_login(setup["people"][person])
    assert create(client).status_code == 403
    assert not Connection.objects.filter(name="Okta OAuth").exists()


def test_a_resubmitted_form_creates_nothing_more(admin, application):
    data = {"name": "Okta OAuth", "provider": "okta", "method": "authorization", "nonce": "n-1"}
    assert admin.post(NEW, data).status_code == 200
    again = admin.post(NEW, data)
    assert again.status_code == 302
    assert Connection.objects.filter(name="Okta OAuth").count() == 1


def test_okta_authorises_the_new_connection_through_the_hinted_url_and_scim_works(
    admin, setup, application
):
    app, secret = application
    page = create(admin).content.decode()
    connection = Connection.objects.get(name="Okta OAuth")

    # Okta adds its parameters to the authorize URL it was given, keeping its query.
    hinted = urlsplit(hinted_url(page))
    oauth = {"response_type": "code", "client_id": app.client_id, "redirect_uri": OKTA}
    url = f"{hinted.path}?{hinted.query}&{urlencode({**oauth, 'state': 'okta-state'})}"
    consent_page = admin.get(url, secure=True).content.decode()
    assert f'<option value="{connection.pk}" selected>' in consent_page
    assert f'<option value="{setup["connection"].pk}">' in consent_page
    assert "names the connection <strong>Okta OAuth</strong> (Okta)" in consent_page

    chosen = re.search(r'<option value="([^"]+)" selected>', consent_page)[1]
    response = admin.post(url, {"connection": chosen, "decision": "allow"}, secure=True)
    target, query = query_of(response)
    assert target == OKTA and set(query) == {"code", "state"}
    assert query["state"] == "okta-state"

    answer = exchange(Client(), app, secret, query["code"])
    assert answer.status_code == 200, answer.content
    tokens = answer.json()
    assert scim_status(Client(), connection, tokens["access_token"]) == 200
    assert scim_status(Client(), setup["connection"], tokens["access_token"]) == 401

    authorisation = Credential.objects.get(connection=connection)
    assert (authorisation.kind, authorisation.application) == ("authorization", app)
    overview = admin.get(f"/provisioning/acme/{connection.pk}/").content.decode()
    assert "Healthy" in overview and "Waiting for authorisation" not in overview
