"""JumpCloud's Identity Management connector ("Custom SCIM" integration).

Sources: JumpCloud's "Identity Management using a Custom SCIM Integration"
(https://jumpcloud.com/support/provision-and-manage-users-and-groups-in-apps-using-custom-scim-identity-management-integration).

JumpCloud documents its behaviour, not its request bodies: users map ``username``
to ``userName``, first and last name to ``name.givenName``/``name.familyName``,
email to ``emails``, a group's name to ``displayName``; empty groups are not
created (a group arrives with its first members); renames are sent; a user leaving
is made inactive, a deleted user or group is deleted; the connection test creates a
test user and group and deletes them when DELETE is supported. All of that is the
RFC's, so it needs no hook. It documents no User-Agent.
"""

from __future__ import annotations

from ...providers import get_provider
from .base import ProviderProfile


class JumpCloud(ProviderProfile):
    provider = get_provider("jumpcloud")
