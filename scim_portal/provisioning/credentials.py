"""Issuing and revoking a connection's credentials, of every kind.

The portal, admin, management API and command call these; each runs in one
transaction and records an event (``token.issued``/``token.revoked`` for bearer
tokens, as always; ``credential.issued``/``credential.revoked`` for the other kinds).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from ..conf import app_settings
from ..models import (
    AccessToken,
    Connection,
    Credential,
    CredentialKind,
    EventType,
    IssuedCredential,
    OAuthApplication,
)
from ..models.credentials import new_client_id
from .events import SYSTEM, Actor, EventRecorder, recording

#: Kinds a person may issue directly (an authorisation comes from the consent page).
ISSUABLE_KINDS = (
    CredentialKind.BEARER,
    CredentialKind.BASIC,
    CredentialKind.CLIENT_SECRET,
    CredentialKind.FEDERATED,
)


def _event_types(kind: str) -> tuple[EventType, EventType]:
    if kind == CredentialKind.BEARER:
        return EventType.TOKEN_ISSUED, EventType.TOKEN_REVOKED
    return EventType.CREDENTIAL_ISSUED, EventType.CREDENTIAL_REVOKED


def _resource_type(kind: str) -> str:
    return "Token" if kind == CredentialKind.BEARER else "Credential"


def _https_url(value: str, what: str, *, required: bool) -> str:
    value = (value or "").strip()
    if not value:
        if required:
            raise ValueError(f"A federated issuer needs its {what}.")
        return ""
    try:
        URLValidator(schemes=["https", "http"])(value)
    except ValidationError:
        raise ValueError(f"The {what} {value!r} is not a URL.") from None
    if urlsplit(value).scheme != "https" and not app_settings.FEDERATION_ALLOW_HTTP:
        raise ValueError(f"The {what} must be an https:// URL.")
    return value


def _within_column(value: str, field: str) -> str:
    """``value`` if the credential's ``field`` holds it, else ``ValueError``."""
    limit = getattr(Credential._meta.get_field(field), "max_length", None)
    if limit is not None and len(value) > limit:
        what = "JWKS URL" if field == "jwks_url" else field
        raise ValueError(f"A credential's {what} is at most {limit} characters.")
    return value


def ensure_client_id(connection: Connection) -> str:
    """The connection's OAuth client id, given now if it has none (under its row lock)."""
    locked = (
        Connection.objects.select_for_update().only("pk", "oauth_client_id").get(pk=connection.pk)
    )
    if not locked.oauth_client_id:
        locked.oauth_client_id = new_client_id()
        Connection.objects.filter(pk=connection.pk).update(oauth_client_id=locked.oauth_client_id)
    connection.oauth_client_id = locked.oauth_client_id
    return locked.oauth_client_id


def refuse_if_deleting(connection: Connection) -> None:
    """``ValueError`` if ``connection`` is being deleted, read under its row lock (held
    until the caller's transaction ends), as the deletion marks it before revoking."""
    locked = (
        Connection.objects.select_for_update().only("pk", "deleting_since").get(pk=connection.pk)
    )
    if locked.deleting_since is not None:
        raise ValueError(
            "This connection is being deleted: it takes no new credential. "
            "Delete it again to finish."
        )


def issue(
    connection: Connection,
    events: EventRecorder,
    *,
    kind: str = CredentialKind.BEARER,
    label: str = "",
    created_by: Any = None,
    expires_at: datetime | None = None,
    issuer: str = "",
    subject: str = "",
    audience: str = "",
    jwks_url: str = "",
) -> IssuedCredential:
    """Issue a credential within a recording (:func:`issue_credential` without its
    transaction, for callers that already hold one)."""
    if kind not in ISSUABLE_KINDS:
        raise ValueError(f"Cannot issue a credential of kind {kind!r}.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValueError("A credential's expiry must be in the future.")
    fields: dict[str, Any] = {
        "label": _within_column(label.strip(), "label"),
        "created_by": created_by,
    }
    fields["expires_at"] = expires_at
    federated = {"issuer": issuer, "subject": subject, "audience": audience, "jwks_url": jwks_url}
    if kind != CredentialKind.FEDERATED and any(federated.values()):
        given = ", ".join(name for name, value in federated.items() if value)
        raise ValueError(f"Only a federated issuer takes {given}.")
    if kind == CredentialKind.FEDERATED:
        subject, audience = subject.strip(), audience.strip()
        if not subject or not audience:
            raise ValueError("A federated issuer needs the subject and audience of its tokens.")
        fields.update(
            issuer=_https_url(issuer, "issuer", required=True),
            subject=subject,
            audience=audience,
            jwks_url=_https_url(jwks_url, "JWKS URL", required=False),
            prefix=subject,
        )
        for name in ("issuer", "subject", "audience", "jwks_url"):
            _within_column(fields[name], name)
    if kind in (CredentialKind.CLIENT_SECRET, CredentialKind.FEDERATED):
        ensure_client_id(connection)
    issued = Credential.build(connection, kind, **fields)
    issued.credential.save()
    credential = issued.credential
    details: dict[str, Any] = {
        "kind": kind,
        "prefix": credential.prefix,
        "label": credential.label,
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
    if kind == CredentialKind.FEDERATED:
        details.update(issuer=credential.issuer, audience=credential.audience)
    events.add(_event_types(kind)[0], _resource_type(kind), credential.pk, details)
    return issued


@transaction.atomic
def issue_credential(
    connection: Connection,
    kind: str = CredentialKind.BEARER,
    *,
    label: str = "",
    created_by: Any = None,
    expires_at: datetime | None = None,
    actor: Actor | None = None,
    issuer: str = "",
    subject: str = "",
    audience: str = "",
    jwks_url: str = "",
) -> IssuedCredential:
    """Issue a new credential of ``kind`` for ``connection``; the others keep working.

    This is rotation with overlap: configure the IdP with the new credential, then
    revoke the old one with :func:`revoke_credential`. Raises ``ValueError`` for an
    expiry in the past, an unknown kind or an incomplete federated issuer. The secret
    in the result (``raw``) is the only time it is available.
    """
    refuse_if_deleting(connection)
    with recording(connection, actor or Actor.for_user(created_by)) as events:
        return issue(
            connection,
            events,
            kind=kind,
            label=label,
            created_by=created_by,
            expires_at=expires_at,
            issuer=issuer,
            subject=subject,
            audience=audience,
            jwks_url=jwks_url,
        )


def issue_token(
    connection: Connection,
    *,
    label: str = "",
    created_by: Any = None,
    expires_at: datetime | None = None,
    actor: Actor | None = None,
) -> IssuedCredential:
    """Issue a new bearer token for ``connection`` (:func:`issue_credential`)."""
    return issue_credential(
        connection,
        CredentialKind.BEARER,
        label=label,
        created_by=created_by,
        expires_at=expires_at,
        actor=actor,
    )


def record_authorization(connection: Connection, application: Any, user: Any) -> Credential:
    """The ``authorization`` credential of ``user``'s consent to ``application`` for
    ``connection``, created at the first exchange of its code (within the token
    endpoint's transaction) and recorded as ``credential.issued`` with the person as
    actor. Its label says who authorised; it has no secret of its own (its access and
    refresh tokens hang from it) and works until revoked. ``ValueError`` if the
    connection is being deleted."""
    refuse_if_deleting(connection)
    label = f"Authorised by {user.get_username()}"[:100]
    with recording(connection, Actor.for_user(user, via="portal")) as events:
        issued = Credential.build(
            connection,
            CredentialKind.AUTHORIZATION,
            label=label,
            created_by=user,
            application=application,
            prefix=application.name,
        )
        issued.credential.save()
        events.add(
            EventType.CREDENTIAL_ISSUED,
            "Credential",
            issued.credential.pk,
            {
                "kind": CredentialKind.AUTHORIZATION,
                "prefix": issued.credential.prefix,
                "label": label,
                "application": application.client_id,
                "expires_at": None,
            },
        )
    return issued.credential


@transaction.atomic
def revoke_credential(credential: Credential, *, actor: Actor = SYSTEM) -> Credential:
    """Revoke ``credential`` at once, with every access token it obtained; revoking a
    revoked credential changes nothing."""
    locked = (
        Credential.objects.select_for_update().select_related("connection").get(pk=credential.pk)
    )
    if locked.revoked_at is None:
        with recording(locked.connection, actor) as events:
            locked.revoked_at = timezone.now()
            locked.save(update_fields=["revoked_at"])
            AccessToken.objects.filter(credential=locked, revoked_at__isnull=True).update(
                revoked_at=locked.revoked_at
            )
            events.add(
                _event_types(locked.kind)[1],
                _resource_type(locked.kind),
                locked.pk,
                {"kind": locked.kind, "prefix": locked.prefix},
            )
    credential.revoked_at = locked.revoked_at
    return locked


@transaction.atomic
def revoke_application(application: OAuthApplication, *, actor: Actor = SYSTEM) -> int:
    """Revoke the vendor's OAuth ``application``: it can no longer authorise, exchange
    or refresh, and every authorisation given to it is revoked (each recorded on its
    connection, its access and refresh tokens ended at once). The number revoked."""
    locked = OAuthApplication.objects.select_for_update().get(pk=application.pk)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
    application.revoked_at = locked.revoked_at
    authorizations = Credential.objects.filter(application=locked, revoked_at__isnull=True)
    revoked = 0
    for credential in authorizations.order_by("pk"):
        revoke_credential(credential, actor=actor)
        revoked += 1
    return revoked
