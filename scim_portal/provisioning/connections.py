"""Creating and deleting connections, issuing and revoking their tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import Connection, ConnectionToken, DirectoryGroup, DirectoryUser, IssuedToken
from ..providers import get_provider


@transaction.atomic
def create_connection(
    *, account: Any, name: str, provider: str, created_by: Any = None
) -> tuple[Connection, IssuedToken]:
    """Create a connection for ``account`` with its first token.

    Raises :class:`~scim_portal.providers.UnknownProvider` for an unknown
    provider key and ``ValueError`` for an empty name. The raw token in the
    result is the only time it is available.
    """
    get_provider(provider)
    name = name.strip()
    if not name:
        raise ValueError("A connection needs a name.")
    connection = Connection.objects.create(
        account=account, name=name, provider=provider, created_by=created_by
    )
    issued = issue_token(connection, label="Initial token", created_by=created_by)
    return connection, issued


@transaction.atomic
def issue_token(
    connection: Connection,
    *,
    label: str = "",
    created_by: Any = None,
    expires_at: datetime | None = None,
) -> IssuedToken:
    """Issue a new token for ``connection``; existing tokens keep working.

    This is rotation with overlap: configure the IdP with the new token, then
    revoke the old one with :func:`revoke_token`.
    """
    if expires_at is not None and expires_at <= timezone.now():
        raise ValueError("A token's expiry must be in the future.")
    issued = ConnectionToken.build(
        connection, label=label, created_by=created_by, expires_at=expires_at
    )
    issued.token.save()
    return issued


@transaction.atomic
def revoke_token(token: ConnectionToken) -> ConnectionToken:
    """Revoke ``token`` at once; revoking a revoked token changes nothing."""
    locked = ConnectionToken.objects.select_for_update().get(pk=token.pk)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
    token.revoked_at = locked.revoked_at
    return locked


@dataclass(frozen=True)
class ConnectionDeleted:
    """What :func:`delete_connection` removed."""

    connection_id: str
    users: int
    groups: int


@transaction.atomic
def delete_connection(connection: Connection) -> ConnectionDeleted:
    """Delete ``connection``, its tokens and its directory users and groups."""
    users = DirectoryUser.objects.filter(connection=connection).count()
    groups = DirectoryGroup.objects.filter(connection=connection).count()
    connection_id = str(connection.pk)
    connection.delete()
    return ConnectionDeleted(connection_id=connection_id, users=users, groups=groups)
