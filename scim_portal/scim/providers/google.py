"""Google Workspace's automated user provisioning.

Sources: Google Workspace Admin Help, "Automated user provisioning"
(https://support.google.com/a/answer/7681608).

Google provisions only to apps in its own catalogue, each set up by Google with the
vendor; it publishes no request bodies and no User-Agent. What it documents —
changes in the Admin console reach the app within hours, for active, suspended and
deleted users (not archived ones) — is the RFC's: creates, updates, ``active:
false`` for a suspension, DELETE for a deletion. So it gets the RFC rules and no hook.
"""

from __future__ import annotations

from ...providers import get_provider
from .base import ProviderProfile


class Google(ProviderProfile):
    provider = get_provider("google")
