"""The Provisioning tab in a real browser (Debian's Chromium driven by Playwright),
against the example project served as ``make run`` serves it."""

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.dns_server import DnsServer
from tests.scim_client import basic_auth
from tests.test_example_project import ROOT, demo_site

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "test-artifacts" / "screenshots"))


@pytest.fixture(scope="module")
def dns():
    """The DNS server the site asks when a domain is verified."""
    server = DnsServer.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory, dns):
    """The example project on a fresh SQLite database with the demo data."""
    folder = tmp_path_factory.mktemp("site")
    with demo_site(folder, DNS_NAMESERVERS=dns.nameserver) as (base, _run):
        yield base


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "Chromium is missing: make test installs Debian's chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def log_in(browser, site, username):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{site}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"{username}-demo")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/a/acme/$"))
    return page


def tab(page, name):
    """A tab of the connection's pages."""
    return page.get_by_role("navigation", name="Connection").get_by_role("link", name=name)


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def scim(url, authorization, method="GET", body=None):
    request = urllib.request.Request(
        url, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": authorization, "Content-Type": "application/scim+json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def token(url, client_id, secret):
    """An access token from the token endpoint, with client_secret_basic."""
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "scim"})
    request = urllib.request.Request(
        url, method="POST", data=body.encode(),
        headers={"Authorization": basic_auth(client_id, secret),
                 "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_admin_goes_from_login_to_a_working_connection_and_back(browser, site):
    page = log_in(browser, site, "acme-admin")
    page.get_by_role("link", name="Provisioning").click()
    expect(page.get_by_role("heading", name="SCIM provisioning")).to_be_visible()
    shot(page, "connections-empty")

    page.get_by_role("link", name="New connection").click()
    page.get_by_label("Name").fill("Okta production")
    page.get_by_label("Provider").select_option("okta")
    expect(page.get_by_label("HTTP Header")).to_be_checked()  # what Okta recommends
    expect(page.get_by_label("Basic Auth")).not_to_be_checked()
    expect(page.get_by_role("button", name="Show its authentication methods")).to_be_hidden()
    shot(page, "create")
    page.get_by_role("button", name="Create connection").click()
    expect(page.get_by_text("it is shown only once")).to_be_visible()
    scim_url = page.get_by_label("SCIM connector base URL").input_value()
    first_token = page.get_by_label("Authorization (Bearer)").input_value()
    page.locator("#scim-token").locator("xpath=..").get_by_role("button", name="Copy").click()
    expect(page.locator("#scim-token-copied")).not_to_be_empty()
    shot(page, "token-shown-once")

    created = scim(f"{scim_url}/Users", f"Bearer {first_token}", "POST", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "grace@acme.example", "name": {"givenName": "Grace", "familyName": "Hopper"},
        "emails": [{"value": "grace@acme.example", "primary": True}],
    })  # fmt: skip
    assert created == 201

    page.reload()  # the browser asks nothing: reloading never shows the token again
    expect(page.get_by_label("Authorization (Bearer)")).to_have_count(0)
    page.goto(scim_url.replace("/scim/v2/", "/provisioning/acme/") + "/")
    expect(page.get_by_text("Healthy")).to_be_visible()
    shot(page, "connection-overview")
    page.get_by_role("link", name="Users").click()
    expect(page.get_by_role("link", name="grace@acme.example")).to_be_visible()
    shot(page, "users")
    page.get_by_role("link", name="Request log").click()
    expect(page.get_by_role("link", name="POST /Users")).to_be_visible()
    shot(page, "request-log")

    tab(page, "Credentials").click()  # rotate to Basic, with overlap
    expect(page.get_by_label("Subject")).to_be_hidden()  # a federated issuer's only
    page.get_by_label("Kind").select_option("basic")
    page.get_by_label("Label").fill("rotation")
    page.get_by_role("button", name="Issue credential").click()
    expect(page.get_by_text("Older credentials keep working")).to_be_visible()
    username = page.get_by_label("Username").input_value()
    password = page.get_by_label("Password").input_value()
    assert scim(f"{scim_url}/Users", f"Bearer {first_token}") == 200
    assert scim(f"{scim_url}/Users", basic_auth(username, password)) == 200
    page.get_by_role("link", name="I have copied it — continue").click()
    tab(page, "Credentials").click()
    expect(page.get_by_role("cell", name=username, exact=True)).to_be_visible()
    shot(page, "tokens")
    page.get_by_role("link", name=f"Revoke HTTP Header {first_token[:14]}").click()
    expect(page.get_by_text("Other credentials keep working")).to_be_visible()
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("stopped working at once")).to_be_visible()
    assert scim(f"{scim_url}/Users", f"Bearer {first_token}") == 401
    assert scim(f"{scim_url}/Users", basic_auth(username, password)) == 200

    page.get_by_role("link", name="Delete", exact=True).click()
    expect(page.get_by_label("Also remove all users and groups")).to_be_checked()
    expect(page.get_by_text("1 user")).to_be_visible()
    shot(page, "delete")
    page.get_by_role("button", name="Delete connection").click()
    expect(page.get_by_text("Deleted “Okta production” with 1 user and 0 groups.")).to_be_visible()
    assert scim(f"{scim_url}/Users", basic_auth(username, password)) == 401
    page.goto(f"{site}/a/acme/")  # the host's members table: grace's membership is deactivated
    row = page.get_by_role("row").filter(has_text="grace@acme.example")
    expect(row).to_contain_text("Deactivated")
    page.context.close()


def test_entra_gets_client_credentials_and_the_auditor_reads_only(browser, site):
    admin = log_in(browser, site, "acme-admin")
    admin.get_by_role("link", name="Provisioning").click()
    admin.get_by_role("link", name="New connection").click()
    admin.get_by_label("Name").fill("Entra ID")
    admin.get_by_label("Provider").select_option("entra")  # the form is redrawn for Entra ID
    expect(admin.get_by_label("OAuth2 Client Credentials Grant")).to_be_checked()
    expect(admin.get_by_label("Name")).to_have_value("Entra ID")
    expect(admin.get_by_label("Token issuer")).to_be_hidden()
    admin.get_by_label("Workload identity-based authentication").check()
    expect(admin.get_by_label("Token issuer")).to_be_visible()
    expect(admin.get_by_label("Audience")).to_have_value(re.compile(r"/scim/oauth/token$"))
    admin.get_by_label("OAuth2 Client Credentials Grant").check()
    admin.get_by_role("button", name="Create connection").click()
    expect(admin.get_by_label("Tenant URL")).to_have_value(re.compile(r"\?aadOptscim062020$"))
    token_endpoint = admin.get_by_label("Token Endpoint").input_value()
    client_id = admin.get_by_label("Client Identifier").input_value()
    secret = admin.get_by_label("Client Secret").input_value()
    expect(admin.get_by_label("Client Authentication Method")).to_have_value("client_secret_basic")
    assert token_endpoint == f"{site}/scim/oauth/token"
    answer = token(token_endpoint, client_id, secret)
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 3600
    tenant_url = admin.get_by_label("Tenant URL").input_value().split("?")[0]
    assert scim(f"{tenant_url}/Users", f"Bearer {answer['access_token']}") == 200
    admin.get_by_role("link", name="I have copied it — continue").click()
    tab(admin, "Credentials").click()
    expect(admin.get_by_role("heading", name="OAuth client")).to_be_visible()
    shot(admin, "credentials")
    admin.context.close()

    page = log_in(browser, site, "acme-auditor")
    page.get_by_role("link", name="Provisioning").click()
    expect(page.get_by_role("link", name="Entra ID")).to_be_visible()
    expect(page.get_by_role("link", name="New connection")).to_have_count(0)
    shot(page, "connections")
    page.get_by_role("link", name="Entra ID").click()
    expect(page.get_by_role("link", name="Delete", exact=True)).to_have_count(0)
    tab(page, "Credentials").click()
    expect(page.get_by_role("link", name=re.compile("Revoke"))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Issue"))).to_have_count(0)
    response = page.goto(page.url.replace("/tokens/", "/delete/"))
    assert response.status == 403
    page.context.close()


def test_the_create_form_works_without_javascript(browser, site):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{site}/login/")
    page.get_by_label("Username").fill("acme-admin")
    page.get_by_label("Password").fill("acme-admin-demo")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{site}/provisioning/acme/new/")
    page.get_by_label("Name").fill("PingOne")
    page.get_by_label("Provider").select_option("pingone")
    page.get_by_role("button", name="Show its authentication methods").click()
    expect(page.get_by_label("OAuth 2 Client Credentials")).to_be_checked()
    expect(page.get_by_label("Name")).to_have_value("PingOne")
    page.get_by_label("OAuth 2 Bearer Token").check()
    page.get_by_role("button", name="Create connection").click()
    expect(page.get_by_label("OAuth Access Token")).to_have_value(re.compile(r"^scimp_"))
    expect(page.get_by_label("Auth Type Header")).to_have_value("Bearer")
    context.close()


def test_member_has_no_provisioning_tab(browser, site):
    page = log_in(browser, site, "acme-member")
    expect(page.get_by_role("link", name="Provisioning")).to_have_count(0)
    response = page.goto(f"{site}/provisioning/acme/")
    assert response.status == 403
    page.context.close()


def test_admin_verifies_a_domain_with_a_dns_record(browser, site, dns):
    page = log_in(browser, site, "acme-admin")
    page.get_by_role("link", name="Provisioning").click()
    page.get_by_role("link", name="Verified domains").click()
    expect(page.get_by_role("heading", name="Verified domains")).to_be_visible()
    page.get_by_label("Domain").fill("Acme-Corp.example")
    page.get_by_role("button", name="Add domain").click()
    expect(page.get_by_role("heading", name="acme-corp.example")).to_be_visible()
    name = page.get_by_label("TXT record name").input_value()
    value = page.get_by_label("TXT record value").input_value()
    assert name == "_scim-portal-verification.acme-corp.example"
    assert re.fullmatch(r"scim-portal-verification=[0-9a-f]{32}", value)
    shot(page, "domain-added")

    page.get_by_role("button", name="Verify acme-corp.example").click()
    expect(page.get_by_text("acme-corp.example is not verified yet: No TXT record")).to_be_visible()
    card = page.get_by_role("region", name="acme-corp.example")
    expect(card.get_by_text("Not verified", exact=True)).to_be_visible()

    dns.publish(name, value)
    page.get_by_role("button", name="Verify acme-corp.example").click()
    expect(page.get_by_text("acme-corp.example is verified.")).to_be_visible()
    expect(card.get_by_text("Verified", exact=True)).to_be_visible()
    expect(page.get_by_label("TXT record value")).to_have_count(0)
    expect(page.get_by_text("Domain Verified", exact=True)).to_be_visible()
    shot(page, "domain-verified")
    page.context.close()
