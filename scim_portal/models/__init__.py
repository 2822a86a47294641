"""Models of the app; import from here."""

from .connections import Connection, ConnectionToken, IssuedToken
from .directory import DirectoryGroup, DirectoryUser, DirectoryUserValue, GroupMembership
from .logs import RequestLog

__all__ = [
    "Connection",
    "ConnectionToken",
    "DirectoryGroup",
    "DirectoryUser",
    "DirectoryUserValue",
    "GroupMembership",
    "IssuedToken",
    "RequestLog",
]
