"""The provider catalogue's authentication methods, as the portal renders them."""

import pytest

from scim_portal.models import CredentialKind
from scim_portal.providers import PROVIDERS, AuthMethod, Field, Provider, Value


def names(key):
    return [(method.kind, method.name) for method in PROVIDERS[key].methods]


def test_each_method_is_a_kind_of_credential_and_each_provider_recommends_one_of_its_own():
    for provider in PROVIDERS.values():
        assert provider.methods, provider.key
        assert {m.kind for m in provider.methods} <= set(CredentialKind.values)
        assert provider.default_method in provider.methods
        for method in provider.methods:
            assert method.fields[0].value == Value.SCIM_URL, (provider.key, method.kind)
            assert bool(method.shows) == (method.kind == "federated")


def test_entra_offers_client_credentials_first_and_recommends_them_and_no_basic():
    assert names("entra") == [
        ("client_secret", "OAuth2 Client Credentials Grant"),
        ("federated", "Workload identity-based authentication"),
        ("bearer", "Secret Token"),
    ]
    assert PROVIDERS["entra"].recommended == "client_secret"
    labels = [field.label for field in PROVIDERS["entra"].method("client_secret").fields]
    assert labels == ["Tenant URL", "Token Endpoint", "Client Identifier", "Client Secret",
                      "Client Authentication Method", "Scope"]  # fmt: skip
    shows = [field.label for field in PROVIDERS["entra"].method("federated").shows]
    assert shows == ["Token issuer", "JWKS URI", "Subject", "Audience"]


def test_okta_recommends_its_header_token_beside_basic_and_oauth_2():
    assert names("okta") == [("basic", "Basic Auth"), ("bearer", "HTTP Header"),
                             ("authorization", "OAuth 2")]  # fmt: skip
    assert PROVIDERS["okta"].recommended == "bearer"
    oauth = [field.label for field in PROVIDERS["okta"].method("authorization").fields]
    assert oauth == ["SCIM connector base URL", "Access token endpoint URI",
                     "Authorization endpoint URI", "Client ID", "Client Secret"]  # fmt: skip
    assert not PROVIDERS["okta"].method("authorization").issuable


def test_the_others():
    assert names("onelogin") == [("bearer", "SCIM Bearer Token")]
    assert names("jumpcloud") == [("bearer", "Bearer Token")]
    assert names("google") == [("bearer", "Access token")]
    assert [kind for kind, _ in names("pingone")] == ["basic", "bearer", "client_secret"]
    assert [kind for kind, _ in names("generic")] == [
        "bearer", "basic", "client_secret", "federated",
    ]  # fmt: skip
    assert PROVIDERS["pingone"].scim_url_label == "SCIM base URL"
    assert PROVIDERS["entra"].scim_url_label == "Tenant URL"


def test_a_kind_a_provider_lacks_borrows_the_generic_clients_fields():
    method = PROVIDERS["entra"].method_or_generic("basic")
    assert method is PROVIDERS["generic"].method("basic")
    with pytest.raises(ValueError, match="authorization"):
        PROVIDERS["entra"].method_or_generic("authorization")


def test_a_provider_must_recommend_one_of_its_methods():
    bearer = AuthMethod("bearer", "Token", (Field("URL", Value.SCIM_URL),))
    with pytest.raises(ValueError, match="recommended"):
        Provider("x", "X", methods=(bearer,), recommended="basic")
    with pytest.raises(ValueError, match="one method per kind"):
        Provider("x", "X", methods=(bearer, bearer))
