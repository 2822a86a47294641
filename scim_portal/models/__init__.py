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
from .safety import DeletedUser, Removal, RemovalKind, RemovalState
from .webhooks import (
    DeliveryAttempt,
    DeliveryMethod,
    DeliveryOutcome,
    DeliveryStream,
    EndpointFormat,
    EndpointSecret,
    EndpointState,
    NotificationKind,
    NotificationOptOut,
    NotificationSent,
    SigningKey,
    WebhookEndpoint,
)

__all__ = [
    "AccessToken",
    "AccountDomain",
    "AuthorizationCode",
    "Connection",
    "Credential",
    "CredentialKind",
    "DeletedUser",
    "DeliveryAttempt",
    "DeliveryMethod",
    "DeliveryOutcome",
    "DeliveryStream",
    "DeprovisionPolicy",
    "DirectoryGroup",
    "DirectoryUser",
    "DirectoryUserValue",
    "EmailDomainPolicy",
    "EndpointFormat",
    "EndpointSecret",
    "EndpointState",
    "EnvironmentKey",
    "EventType",
    "GroupMembership",
    "HostLink",
    "IssuedCredential",
    "LinkPolicy",
    "NotificationKind",
    "NotificationOptOut",
    "NotificationSent",
    "OAuthApplication",
    "ProvisioningEvent",
    "Removal",
    "RemovalKind",
    "RemovalState",
    "RequestLog",
    "RoleMapping",
    "SigningKey",
    "VerificationMethod",
    "WebhookEndpoint",
]
