"""Okta (Okta Integration Network and App Integration Wizard SCIM 2.0 apps).

Sources: Okta's "SCIM 2.0 Protocol Reference"
(https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20) and
INTEROP.md.

What it sends, all read by the RFC rules but one: ``User-Agent: Okta SCIM Client
1.0.0``; a create with ``password``, ``groups: []``, ``locale`` and ``externalId``; a
PUT of the whole user, ``id``, ``groups`` and ``meta`` included (RFC rules: read-only,
ignored); deactivation as ``{"op": "replace", "value": {"active": false}}``; a group
rename as a path-less ``replace`` whose value carries the group's ``id`` (RFC rules:
ignored); membership changes as ``remove`` of ``members[value eq "…"]`` plus ``add``
of ``members``; never a DELETE of a user. Its own quirk: the ``password``.
"""

from __future__ import annotations

from typing import Any

from ...providers import get_provider
from .base import SECONDS, ProviderProfile, ResourceInfo


class Okta(ProviderProfile):
    provider = get_provider("okta")
    #: "can also be a HTTP 204 response, with no body returned" (users and groups).
    patch_statuses = {"User": frozenset({200, 204}), "Group": frozenset({200, 204})}
    #: Okta honours only whole seconds; an HTTP-date makes it wait five minutes
    #: (INTEROP.md, checklist item 26).
    retry_after_forms = frozenset({SECONDS})

    def normalize_resource(self, body: dict[str, Any], resource: ResourceInfo) -> dict[str, Any]:
        """Drop the ``password`` Okta sends on create even without password sync ("a
        placeholder for legacy provisioning platforms"): never stored, never echoed."""
        return {key: value for key, value in body.items() if key.lower() != "password"}
