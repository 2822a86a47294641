"""The identity providers a connection can be made for: who each one is.

This catalogue sits below every layer: the models, portal, admin, API and the
management command read it for the provider choice, the SCIM URL a provider is
given (Entra ID's ends in a flag) and its setup guide. What each provider's SCIM
client sends and expects back is protocol, and lives with the protocol: one
module per provider in :mod:`scim_portal.scim.providers`.
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
    #: Lower-case fragments of the User-Agent header this provider's SCIM client sends.
    user_agent_markers: tuple[str, ...] = ()

    @property
    def guide_template(self) -> str:
        """The template of this provider's setup guide, shown with the connection."""
        return f"scim_portal/guides/{self.key}.html"


PROVIDERS: dict[str, Provider] = {
    provider.key: provider
    for provider in (
        Provider("okta", "Okta", user_agent_markers=("okta",)),
        # The flag makes Entra ID send RFC-conformant PATCH requests.
        Provider(
            "entra",
            "Microsoft Entra ID",
            url_suffix="?aadOptscim062020",
            user_agent_markers=("azure", "microsoft", "aad"),
        ),
        Provider("onelogin", "OneLogin", user_agent_markers=("onelogin",)),
        Provider("jumpcloud", "JumpCloud", user_agent_markers=("jumpcloud",)),
        Provider("google", "Google Workspace", user_agent_markers=("google",)),
        Provider("pingone", "PingOne", user_agent_markers=("ping",)),
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


def provider_for_user_agent(user_agent: str) -> str:
    """The key of the provider whose SCIM client sends ``user_agent``, or ""."""
    lowered = user_agent.lower()
    for provider in PROVIDERS.values():
        if any(marker in lowered for marker in provider.user_agent_markers):
            return provider.key
    return ""
