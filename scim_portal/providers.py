"""The identity providers a connection can be made for.

The registry drives the provider choice in the portal, admin and API, and the
details that differ per provider (the SCIM URL Entra ID expects).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    """An identity provider that can provision over SCIM 2.0."""

    key: str
    name: str
    #: Appended to the SCIM base URL shown to the tenant admin for this provider.
    url_suffix: str = ""


PROVIDERS: dict[str, Provider] = {
    provider.key: provider
    for provider in (
        Provider("okta", "Okta"),
        # The flag makes Entra ID send RFC-conformant PATCH requests.
        Provider("entra", "Microsoft Entra ID", url_suffix="?aadOptscim062020"),
        Provider("onelogin", "OneLogin"),
        Provider("jumpcloud", "JumpCloud"),
        Provider("google", "Google Workspace"),
        Provider("pingone", "PingOne"),
        Provider("generic", "Generic SCIM 2.0"),
    )
}


class UnknownProvider(KeyError):
    """Raised for a provider key that is not in the registry."""

    def __str__(self) -> str:
        return f"Unknown provider {self.args[0]!r}; choose one of: {', '.join(PROVIDERS)}."


def get_provider(key: str) -> Provider:
    """The provider registered under ``key``; raises :class:`UnknownProvider`."""
    try:
        return PROVIDERS[key]
    except KeyError:
        raise UnknownProvider(key) from None


def provider_choices() -> list[tuple[str, str]]:
    """``(key, name)`` pairs for form and model choices."""
    return [(provider.key, provider.name) for provider in PROVIDERS.values()]
