"""JumpCloud, on RFC 7644 shapes of what its Identity Management connector documents
(tests/fixtures/jumpcloud/): groups are created with their first members."""

from tests.scim.providers.conformance import ProviderConformance


class TestJumpCloud(ProviderConformance):
    provider = "jumpcloud"
    updated = {"name": {"givenName": "Jo", "familyName": "Tester-Smith"}}
    renamed = {"displayName": "Platform Engineering"}
