"""Which providers' normalisers a request goes through, in which order, and that the
engine names no provider."""

import re
from pathlib import Path

import pytest

import scim_portal.scim
from scim_portal.providers import PROVIDERS
from scim_portal.scim.providers import PROFILES, TOLERANT, dialect_for
from scim_portal.scim.providers.base import ResourceInfo

pytestmark = pytest.mark.django_db

AZURE = "Microsoft.Identity.Provisioning.AzureAD"  # any User-Agent naming Azure


def keys(dialect):
    return [profile.provider.key for profile in dialect.profiles]


def test_every_provider_has_one_profile_in_its_own_module():
    assert list(PROFILES) == list(PROVIDERS)
    for key, profile in PROFILES.items():
        assert profile.provider is PROVIDERS[key]
        assert type(profile).__module__ == f"scim_portal.scim.providers.{key}"
    assert keys(TOLERANT) == list(PROVIDERS)


@pytest.mark.parametrize(
    ("provider", "user_agent", "first"),
    [
        ("okta", "Okta SCIM Client 1.0.0", ["okta"]),
        ("okta", AZURE, ["entra", "okta"]),
        ("jumpcloud", "curl/8.5.0", ["jumpcloud"]),
        ("generic", "", ["generic"]),
    ],
)
def test_the_requests_own_providers_come_first_then_every_other(provider, user_agent, first):
    order = keys(dialect_for(provider, user_agent))
    assert order[: len(first)] == first
    assert sorted(order) == sorted(PROVIDERS)


@pytest.fixture
def calls(monkeypatch):
    """The providers whose filter and PATCH hooks ran, in order."""
    seen = []
    for key, profile in PROFILES.items():
        cls = type(profile)

        def on_filter(self, text, key=key, original=cls.normalize_filter):
            seen.append(key)
            return original(self, text)

        def on_operation(self, operation, resource_type, key=key, original=cls.normalize_operation):
            seen.append(key)
            return original(self, operation, resource_type)

        monkeypatch.setattr(cls, "normalize_filter", on_filter)
        monkeypatch.setattr(cls, "normalize_operation", on_operation)
    return seen


def test_a_request_is_read_by_its_callers_provider_first(scim, calls):
    # ``scim`` is a connection for Okta; the caller says it is Azure.
    found = scim.get("/Users", filter="externalId eq jyoung", headers={"User-Agent": AZURE})
    assert found.status_code == 200
    assert calls[:2] == ["entra", "okta"] and sorted(calls) == sorted(PROVIDERS)
    user = scim.create_user("order@example.com")
    calls.clear()
    op = {"op": "replace", "path": "title", "value": "Lead"}
    assert scim.patch_ops(f"/Users/{user['id']}", op).status_code == 200
    assert calls[0] == "okta" and sorted(calls) == sorted(PROVIDERS)


def test_okta_password_is_dropped_before_validation():
    body = {"userName": "x@example.com", "Password": 1234}
    assert PROFILES["okta"].normalize_resource(body, ResourceInfo("User")) == {
        "userName": "x@example.com"
    }


def test_no_provider_is_named_in_the_engine():
    """Views, filters, operations and the schema know no provider: what one sends
    is its own module's business (``scim_portal/scim/providers/``)."""
    root = Path(scim_portal.scim.__file__).parent
    engine = [
        *sorted((root / "views").glob("*.py")),
        *(root / n for n in ("filters.py", "operations.py", "schema.py")),
    ]
    names = re.compile(
        r"\b(okta|entra|microsoft|azure|aad\w*|onelogin|jumpcloud|google|pingone|ping)\b", re.I
    )
    named = [
        f"{path.name}:{number}: {line.strip()}"
        for path in engine
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if names.search(line)
    ]
    assert named == []
