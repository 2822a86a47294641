"""Models of the app; import from here."""

from .connections import (
    Connection,
    ConnectionToken,
    DeprovisionPolicy,
    EmailDomainPolicy,
    IssuedToken,
    LinkPolicy,
)
from .directory import (
    DirectoryGroup,
    DirectoryUser,
    DirectoryUserValue,
    GroupMembership,
    HostLink,
    RoleMapping,
)
from .domains import AccountDomain, VerificationMethod
from .events import EventType, ProvisioningEvent
from .keys import EnvironmentKey
from .logs import RequestLog

__all__ = [
    "AccountDomain",
    "Connection",
    "ConnectionToken",
    "DeprovisionPolicy",
    "DirectoryGroup",
    "DirectoryUser",
    "DirectoryUserValue",
    "EmailDomainPolicy",
    "EnvironmentKey",
    "EventType",
    "GroupMembership",
    "HostLink",
    "IssuedToken",
    "LinkPolicy",
    "ProvisioningEvent",
    "RequestLog",
    "RoleMapping",
    "VerificationMethod",
]
