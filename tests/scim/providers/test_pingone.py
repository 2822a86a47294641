"""PingOne, on its documented user filter expression and RFC 7644 shapes
(tests/fixtures/pingone/)."""

from tests.scim.providers.conformance import ProviderConformance

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


class TestPingOne(ProviderConformance):
    provider = "pingone"
    user_lookup = 'username Eq "%s"'
    updated = {ENTERPRISE: {"employeeNumber": "4712"}}
    renamed = {"displayName": "Customer Support"}
