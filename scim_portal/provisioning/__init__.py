"""Service functions: the only code that writes connections and directory state.

The portal, admin, management API, management command and SCIM views all call
these; each runs in one database transaction.
"""

from .connections import ConnectionDeleted, create_connection, delete_connection, prune
from .credentials import issue_credential, issue_token, revoke_application, revoke_credential

__all__ = [
    "ConnectionDeleted",
    "create_connection",
    "delete_connection",
    "issue_credential",
    "issue_token",
    "prune",
    "revoke_application",
    "revoke_credential",
]
