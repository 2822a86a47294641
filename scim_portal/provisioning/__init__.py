"""Service functions: the only code that writes connections and directory state.

The portal, admin, management API, management command and SCIM views all call
these; each runs in one database transaction.
"""

from .connections import (
    ConnectionDeleted,
    create_connection,
    delete_connection,
    issue_token,
    prune,
    revoke_token,
)

__all__ = [
    "ConnectionDeleted",
    "create_connection",
    "delete_connection",
    "issue_token",
    "prune",
    "revoke_token",
]
