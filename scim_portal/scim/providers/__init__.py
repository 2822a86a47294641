"""What each identity provider's SCIM client sends and expects back: one module per
provider over :class:`~.base.ProviderProfile`; the rules every client gets and the
order they run in are in :mod:`.base`."""

from __future__ import annotations

from functools import cache

from ...providers import provider_for_user_agent
from .base import Dialect, ProviderProfile, ResourceInfo
from .entra import Entra
from .generic import Generic
from .google import Google
from .jumpcloud import JumpCloud
from .okta import Okta
from .onelogin import OneLogin
from .pingone import PingOne

__all__ = ["PROFILES", "TOLERANT", "Dialect", "ProviderProfile", "ResourceInfo", "dialect_for"]

#: The profile of each provider, by catalogue key.
PROFILES: dict[str, ProviderProfile] = {
    profile.provider.key: profile
    for profile in (Okta(), Entra(), OneLogin(), JumpCloud(), Google(), PingOne(), Generic())
}

#: Every provider's normalisers in catalogue order: for input read outside a request.
TOLERANT = Dialect(tuple(PROFILES.values()))


def dialect_for(provider: str, user_agent: str = "") -> Dialect:
    """The normalisers of a request to a connection of ``provider`` from a client
    sending ``user_agent``: the provider the User-Agent names, then the connection's,
    then every other one (see :mod:`.base`)."""
    identified = (provider_for_user_agent(user_agent), provider)
    return _dialect(tuple(dict.fromkeys(key for key in identified if key in PROFILES)))


@cache
def _dialect(first: tuple[str, ...]) -> Dialect:
    rest = tuple(profile for key, profile in PROFILES.items() if key not in first)
    return Dialect(tuple(PROFILES[key] for key in first) + rest)
