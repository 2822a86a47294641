"""Models of the app; import from here."""

from .connections import Connection, ConnectionToken, IssuedToken
from .directory import DirectoryGroup, DirectoryUser, GroupMembership

__all__ = [
    "Connection",
    "ConnectionToken",
    "DirectoryGroup",
    "DirectoryUser",
    "GroupMembership",
    "IssuedToken",
]
