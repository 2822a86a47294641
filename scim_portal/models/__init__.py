"""Models of the app; import from here."""

from .connections import (
    Connection,
    ConnectionToken,
    DeprovisionPolicy,
    IssuedToken,
    LinkPolicy,
)
from .directory import (
    DirectoryGroup,
    DirectoryUser,
    DirectoryUserValue,
    GroupMembership,
    RoleMapping,
)
from .events import EventType, ProvisioningEvent
from .keys import EnvironmentKey
from .logs import RequestLog

__all__ = [
    "Connection",
    "ConnectionToken",
    "DeprovisionPolicy",
    "DirectoryGroup",
    "DirectoryUser",
    "DirectoryUserValue",
    "EnvironmentKey",
    "EventType",
    "GroupMembership",
    "IssuedToken",
    "LinkPolicy",
    "ProvisioningEvent",
    "RequestLog",
    "RoleMapping",
]
