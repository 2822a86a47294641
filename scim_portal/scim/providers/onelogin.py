"""OneLogin's SCIM provisioner ("SCIM Provisioner with SAML (SCIM v2 Enterprise)").

Sources: OneLogin's developer guide, "Define Your SCIM User Schema"
(https://developers.onelogin.com/scim/define-user-schema) and "Test Your SCIM
Implementation" (https://developers.onelogin.com/scim/test-your-scim), and
INTEROP.md.

The admin writes the user body as a "SCIM JSON template"; OneLogin's own example
template sends ``emails`` as one object, not a list. When a user is deleted in
OneLogin the app's setting decides: delete, suspend (``active: false``) or nothing.
Its ``op`` values are lower-case. It documents no User-Agent.
"""

from __future__ import annotations

from typing import Any

from ...providers import get_provider
from .base import ProviderProfile, ResourceInfo


class OneLogin(ProviderProfile):
    provider = get_provider("onelogin")

    def normalize_resource(self, body: dict[str, Any], resource: ResourceInfo) -> dict[str, Any]:
        """A multi-valued attribute sent as one object is a list of one."""
        return {
            key: [value]
            if key.lower() in resource.multi_valued and isinstance(value, dict)
            else value
            for key, value in body.items()
        }
