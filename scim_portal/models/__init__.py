"""Models of the app; import from here."""

from .connections import Connection, DeprovisionPolicy, EmailDomainPolicy, LinkPolicy
from .credentials import (
    AccessToken,
    AuthorizationCode,
    Credential,
    CredentialKind,
    IssuedCredential,
    OAuthApplication,
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
    "AccessToken",
    "AccountDomain",
    "AuthorizationCode",
    "Connection",
    "Credential",
    "CredentialKind",
    "DeprovisionPolicy",
    "DirectoryGroup",
    "DirectoryUser",
    "DirectoryUserValue",
    "EmailDomainPolicy",
    "EnvironmentKey",
    "EventType",
    "GroupMembership",
    "HostLink",
    "IssuedCredential",
    "LinkPolicy",
    "OAuthApplication",
    "ProvisioningEvent",
    "RequestLog",
    "RoleMapping",
    "VerificationMethod",
]
