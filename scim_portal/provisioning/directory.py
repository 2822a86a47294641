"""The directory services in one place: users, groups and memberships of a connection,
and roles from group mappings. Every function runs in one transaction; see
:mod:`.users`, :mod:`.groups`, :mod:`.roles` and :mod:`.documents`."""

from .connections import SETTINGS_FIELDS, update_connection_settings
from .documents import call_adapter, group_columns, user_columns
from .groups import MemberChange, create_group, delete_group, update_group
from .roles import (
    recompute_all_roles,
    recompute_roles,
    remove_role_mapping,
    set_role_mapping,
)
from .users import (
    check_email_domain,
    create_user,
    delete_user,
    link_pending_users,
    update_user,
)

__all__ = [
    "SETTINGS_FIELDS",
    "MemberChange",
    "call_adapter",
    "check_email_domain",
    "create_group",
    "create_user",
    "delete_group",
    "delete_user",
    "group_columns",
    "link_pending_users",
    "recompute_all_roles",
    "recompute_roles",
    "remove_role_mapping",
    "set_role_mapping",
    "update_connection_settings",
    "update_group",
    "update_user",
    "user_columns",
]
