"""PingOne's SCIM Outbound provisioning connection.

Sources: PingOne documentation, "SCIM provisioning features", "Creating a SCIM
connection" and "SCIM filter expressions"
(https://docs.pingidentity.com/pingone/integrations/p1_scim_provisioning_features.html,
https://docs.pingidentity.com/pingone/integrations/p1_scim_filter_expressions.html).

PingOne finds a user with a configurable filter expression, by default
``userName eq "%s"``; its documented examples write ``username Eq "%s"``, which the
RFC's grammar reads (attribute names and operators are case-insensitive). It
creates, updates, disables (``active: false``) or deletes users, as the connection's
remove action says, and provisions groups when configured. It publishes no request
bodies and no User-Agent, so it gets the RFC rules and no hook.
"""

from __future__ import annotations

from ...providers import get_provider
from .base import ProviderProfile


class PingOne(ProviderProfile):
    provider = get_provider("pingone")
