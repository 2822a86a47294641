"""Google Workspace, on RFC 7644 shapes: Google publishes no request bodies
(tests/fixtures/google/)."""

from tests.scim.providers.conformance import ProviderConformance


class TestGoogle(ProviderConformance):
    provider = "google"
    updated = {"name": {"givenName": "Gracie", "familyName": "User"}}
    renamed = {"displayName": "Sales EMEA"}
