"""OneLogin, on its documented SCIM JSON template and RFC 7644 shapes (tests/fixtures/onelogin/)."""

from tests.scim.providers.conformance import ProviderConformance


class TestOneLogin(ProviderConformance):
    provider = "onelogin"
    updated = {"title": "Controller"}
    renamed = {"displayName": "Finance and Accounting"}

    def test_sends_emails_as_an_object(self, scim):
        response = scim.post(
            "/Users",
            {"userName": "ol@example.com", "emails": {"value": "ol@example.com", "primary": True}},
        )
        assert response.status_code == 201
        assert response.json()["emails"] == [{"value": "ol@example.com", "primary": True}]

    def test_its_template_user_keeps_its_email(self, scim):
        user = self.create_user(scim)
        assert user["emails"] == [
            {"value": "Ana.Lopez@example.com", "type": "work", "primary": True}
        ]
