"""Every provider's setup guide, rendered on the connection page a tenant admin reads."""

import re

import pytest
from django.test import Client

from scim_portal.providers import PROVIDERS
from scim_portal.provisioning import create_connection

pytestmark = pytest.mark.django_db

#: A sentence only that provider's guide has.
GUIDES = {
    "okta": "In the Okta Admin Console, open",
    "entra": "In the Microsoft Entra admin center, open",
    "onelogin": "SCIM Provisioner with SAML (SCIM v2 Enterprise)",
    "jumpcloud": "In the JumpCloud Admin Portal, open",
    "google": "Google Workspace provisions users automatically only to applications",
    "pingone": "In the PingOne admin console, open",
    "generic": "create a SCIM 2.0 (RFC 7643/7644) outbound provisioning connection",
}


@pytest.fixture
def admin(setup):
    client = Client()
    client.force_login(setup["people"]["admin"])
    return client


@pytest.mark.parametrize("key", list(PROVIDERS))
def test_the_connection_page_shows_its_providers_guide_and_url(admin, setup, key):
    provider = PROVIDERS[key]
    connection, _issued = create_connection(
        account=setup["account"], name=f"{provider.name} guide", provider=key
    )
    response = admin.get(f"/provisioning/acme/{connection.pk}/")
    assert response.status_code == 200
    assert provider.guide_template in [template.name for template in response.templates]
    page = response.content.decode()
    assert f"Setup guide for {provider.name}" in page
    assert GUIDES[key] in page
    assert [other for other, text in GUIDES.items() if text in page] == [key]
    scim_url = f"http://testserver/scim/v2/{connection.pk}{provider.url_suffix}"
    assert f'value="{scim_url}"' in page


def guide_sections(page, key):
    """Each method section of a guide: ``{kind: (heading, [field labels in order])}``."""
    parts = re.split(rf'<h4 id="guide-{key}-([a-z_]+)">', page)[1:]
    sections = {}
    for kind, body in zip(parts[::2], parts[1::2], strict=True):
        heading, _, rest = body.partition("</h4>")
        rest = rest.split("</ul>")[0]
        sections[kind] = (
            re.sub(r"<[^>]+>", "", heading).strip(),
            re.findall(r"<li><strong>([^<]+)</strong>", rest),
        )
    return sections


@pytest.mark.parametrize("key", list(PROVIDERS))
def test_each_guide_covers_each_method_in_the_providers_words_and_field_order(admin, setup, key):
    provider = PROVIDERS[key]
    connection, _issued = create_connection(account=setup["account"], name="Guide", provider=key)
    page = admin.get(f"/provisioning/acme/{connection.pk}/").content.decode()
    sections = guide_sections(page, key)
    assert list(sections) == [method.kind for method in provider.methods]
    for method in provider.methods:
        heading, fields = sections[method.kind]
        recommended = " (recommended)" if method.kind == provider.recommended else ""
        assert heading == method.name + recommended
        expected = [field.label for field in method.fields]
        if key == "okta":  # its SCIM connector base URL is the step before
            expected = [label for label in expected if label != "SCIM connector base URL"]
        assert fields == expected
    if any(field.value == "token_endpoint" for m in provider.methods for field in m.fields):
        assert "<code>http://testserver/scim/oauth/token</code>" in page
