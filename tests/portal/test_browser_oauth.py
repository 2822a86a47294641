"""Okta's OAuth 2.0 authorization code flow in a real browser (Debian's Chromium driven
by Playwright) against the live test server: a tenant admin logs in and authorises
the vendor's application for a connection; a stand-in for Okta's callback, on
127.0.0.1, receives the code; the test then exchanges it, refreshes and calls SCIM
as Okta would, over plain HTTP."""

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.contrib.auth.views import LoginView
from django.http import HttpResponse
from django.template import engines
from django.urls import include, path
from playwright.sync_api import expect, sync_playwright

from scim_portal.models import Credential, OAuthApplication
from tests.portal.test_browser import CHROMIUM, shot
from tests.scim_client import basic_auth

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls(__name__),
]

CALLBACK_PATH = "/admin/app/cpc/acme_scim/oauth/callback"
LOGIN_PAGE = """<!doctype html><html lang="en"><title>Log in</title>
<h1>Log in</h1><form method="post">{% csrf_token %}
<input type="hidden" name="next" value="{{ next }}">
<label for="u">Username</label> <input id="u" name="username">
<label for="p">Password</label> <input id="p" name="password" type="password">
<button type="submit">Log in</button></form></html>"""


class HostLoginView(LoginView):
    """The host's own login page (the test settings have none)."""

    def render_to_response(self, context, **kwargs):
        template = engines["django"].from_string(LOGIN_PAGE)
        return HttpResponse(template.render(context, self.request))


urlpatterns = [path("login/", HostLoginView.as_view()), path("", include("tests.urls"))]


class OktaCallback:
    """A stand-in for Okta's OAuth callback: records each query string it receives."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                if url.path == CALLBACK_PATH:
                    received.append({k: v[0] for k, v in parse_qs(url.query).items()})
                body = b"<!doctype html><title>Okta</title><h1>Back in Okta</h1>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.redirect_uri = f"http://127.0.0.1:{self.server.server_port}{CALLBACK_PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def okta_callback():
    callback = OktaCallback()
    yield callback
    callback.stop()


def post_form(url, form, client_id, secret):
    """A token request as Okta sends it (client_secret_basic); (status, JSON body)."""
    request = urllib.request.Request(
        url,
        data=urlencode(form).encode(),
        method="POST",
        headers={
            "Authorization": basic_auth(client_id, secret),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def scim(url, token, method="GET", body=None):
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None


def log_in(page, username):
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()


def test_okta_authorization_code_flow_in_chromium(live_server, setup, okta_callback):
    assert Path(CHROMIUM).exists(), "Chromium is missing: make test installs Debian's chromium"
    application = OAuthApplication(name="Acme for Okta", redirect_uris=okta_callback.redirect_uri)
    secret = application.set_secret()
    application.save()
    connection = setup["connection"]
    query = {
        "response_type": "code",
        "client_id": application.client_id,
        "redirect_uri": okta_callback.redirect_uri,
        "state": "okta-state-1",
        "scope": "scim",
    }
    authorize_url = f"{live_server.url}/scim/oauth/authorize?{urlencode(query)}"
    token_url = f"{live_server.url}/scim/oauth/token"
    scim_url = f"{live_server.url}/scim/v2/{connection.pk}"

    # Django's ORM stays out of the Playwright block (its event loop runs in this
    # thread); everything below talks to the live server over HTTP.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(authorize_url)  # as Okta sends the tenant admin: first the host's login
        log_in(page, "admin")
        expect(page.get_by_role("heading", name="Authorise Acme for Okta")).to_be_visible()
        expect(page.get_by_text("Authorised by admin")).to_be_visible()
        choice = page.get_by_label("Connection")
        expect(choice.locator("option")).to_have_count(1)  # not the other account's
        choice.select_option(str(connection.pk))
        shot(page, "oauth-authorize")
        page.get_by_role("button", name="Authorise").click()
        expect(page.get_by_role("heading", name="Back in Okta")).to_be_visible()
        assert len(okta_callback.received) == 1
        callback = okta_callback.received[0]
        assert callback["state"] == "okta-state-1" and callback["code"].startswith("scimac_")
        page.context.close()

        # Okta's back end: exchange, call SCIM, refresh, call SCIM with the new token.
        status, tokens = post_form(
            token_url,
            {
                "grant_type": "authorization_code",
                "code": callback["code"],
                "redirect_uri": okta_callback.redirect_uri,
            },
            application.client_id,
            secret,
        )
        assert status == 200, tokens
        assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
        assert scim(f"{scim_url}/Users", tokens["access_token"])[0] == 200
        status, refreshed = post_form(
            token_url,
            {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            application.client_id,
            secret,
        )
        assert status == 200, refreshed
        assert refreshed["refresh_token"] != tokens["refresh_token"]
        status, listed = scim(f"{scim_url}/Users", refreshed["access_token"])
        assert status == 200 and listed["totalResults"] == 1
        status, created = scim(
            f"{scim_url}/Users",
            refreshed["access_token"],
            "POST",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "grace@acme.example",
                "name": {"givenName": "Grace", "familyName": "Hopper"},
                "emails": [{"value": "grace@acme.example", "primary": True}],
            },
        )
        assert status == 201 and created["userName"] == "grace@acme.example"
        status, reused = post_form(
            token_url,
            {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            application.client_id,
            secret,
        )
        assert (status, reused["error"]) == (400, "invalid_grant")

        # The same code again: refused, and what it obtained is revoked.
        status, again = post_form(
            token_url,
            {
                "grant_type": "authorization_code",
                "code": callback["code"],
                "redirect_uri": okta_callback.redirect_uri,
            },
            application.client_id,
            secret,
        )
        assert (status, again["error"]) == (400, "invalid_grant")
        assert scim(f"{scim_url}/Users", refreshed["access_token"])[0] == 401

        # A member without the create permission is refused and can only go back.
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(authorize_url)
        log_in(page, "member")
        expect(page.get_by_text("You may not create provisioning in any account")).to_be_visible()
        expect(page.get_by_label("Connection")).to_have_count(0)
        expect(page.get_by_role("button", name="Authorise")).to_have_count(0)
        shot(page, "oauth-authorize-refused")
        page.get_by_role("button", name="Go back").click()
        expect(page.get_by_role("heading", name="Back in Okta")).to_be_visible()
        assert okta_callback.received[-1] == {
            "error": "access_denied",
            "error_description": "The resource owner or authorization server denied the request",
            "state": "okta-state-1",
        }
        page.context.close()
        browser.close()

    authorisation = Credential.objects.get(connection=connection, kind="authorization")
    assert authorisation.label == "Authorised by admin" and authorisation.revoked_at is not None
