"""Any SCIM 2.0 client, on the examples of RFC 7643 and RFC 7644 (tests/fixtures/generic/)."""

from tests.scim.providers.conformance import ProviderConformance


class TestGeneric(ProviderConformance):
    provider = "generic"
    updated = {
        "nickName": "Babs",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
    }
    renamed = {"displayName": "Tour Guides (EMEA)"}
