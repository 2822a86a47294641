"""What the management API reads and writes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone, translation
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..accounts import url_key
from ..health import health
from ..models import (
    AccountDomain,
    Connection,
    Credential,
    CredentialKind,
    DirectoryGroup,
    DirectoryUser,
    ProvisioningEvent,
    VerificationMethod,
)
from ..providers import provider_choices
from ..provisioning.credentials import ISSUABLE_KINDS


def _base_url(context: Mapping[str, Any]) -> str | None:
    """The request's scheme and host (``None``: ``SCIM_PORTAL["PUBLIC_URL"]`` decides)."""
    request = context.get("request")
    return request.build_absolute_uri("/") if request is not None else None


class HealthSerializer(serializers.Serializer):
    key = serializers.ChoiceField(
        choices=["waiting", "healthy", "failing", "expiring", "unused"],
        help_text="waiting (no request yet, or no credential), healthy, failing (the latest "
        "request was refused, or no credential works), expiring (every usable credential "
        "expires soon) or unused (no request for a long time).",
    )
    label = serializers.CharField(help_text="The status in a few words.")  # type: ignore[assignment]
    explanation = serializers.CharField(help_text="What it means and what to do, for people.")


class ConnectionSerializer(serializers.ModelSerializer):
    account = serializers.SerializerMethodField(
        help_text="The account it provisions, by its lookup value (e.g. its slug)."
    )
    scim_url = serializers.SerializerMethodField(
        help_text="The SCIM base URL, ending in /scim/v2/<id>; the identity provider calls "
        "the resources under it."
    )
    setup_url = serializers.SerializerMethodField(
        help_text="Exactly what the identity provider's admin pastes: scim_url with the "
        "provider's flag (Entra ID: ?aadOptscim062020), else scim_url itself."
    )
    status = serializers.SerializerMethodField(
        help_text="Whether provisioning works, from its credentials and latest requests."
    )
    user_count = serializers.IntegerField(read_only=True, help_text="Users in its directory.")
    group_count = serializers.IntegerField(read_only=True, help_text="Groups in its directory.")
    oauth_client_id = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The OAuth client id of its client secrets and federated issuers (null "
        "until the first is issued).",
    )
    token_endpoint = serializers.SerializerMethodField(
        help_text="Where client secrets and federated assertions are exchanged for access "
        "tokens (grant_type=client_credentials)."
    )

    class Meta:
        model = Connection
        fields = [
            "id", "account", "name", "provider", "status", "scim_url", "setup_url", "user_count",
            "group_count", "created_at", "last_request_at", "link_policy",
            "deprovision_policy", "default_role", "oauth_client_id", "access_token_lifetime",
            "token_endpoint", "brake_enabled", "brake_percent", "brake_minimum",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": "The connection's id; its SCIM URLs end with it."},
            "name": {"help_text": "A name for people, e.g. the identity provider's."},
            "provider": {
                "help_text": "The identity provider it is set up for (its setup guide and quirks)."
            },
            "created_at": {"help_text": "When it was created."},
            "last_request_at": {
                "help_text": "When the identity provider last called it (null: never)."
            },
            "link_policy": {
                "help_text": "What a new directory user becomes in the application: "
                "verified_email (claim the existing user on a verified domain, else create), "
                "always_create, or never (directory only)."
            },
            "deprovision_policy": {
                "help_text": "What removing a user does to their membership of the account: "
                "deactivate it (kept) or remove it."
            },
            "default_role": {
                "help_text": "The role of users no mapped group gives one (empty: the "
                "application's default)."
            },
        }

    def get_account(self, connection: Connection) -> str:
        return url_key(connection.account)

    def get_scim_url(self, connection: Connection) -> str:
        return connection.scim_url(_base_url(self.context))

    def get_setup_url(self, connection: Connection) -> str:
        return connection.setup_url(_base_url(self.context))

    def get_token_endpoint(self, connection: Connection) -> str:
        return Connection.token_endpoint(_base_url(self.context))

    @extend_schema_field(HealthSerializer)
    def get_status(self, connection: Connection) -> dict[str, str]:
        # Machine-facing JSON: in English, whatever the request's language.
        with translation.override("en"):
            state = health(connection)
        return {"key": state.key, "label": state.label, "explanation": state.explanation}


class ConnectionCreateSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=200, help_text='A name for people, e.g. "Okta production".'
    )
    provider = serializers.ChoiceField(
        choices=provider_choices(),
        help_text="The customer's identity provider: decides the setup guide, the quirks "
        "handled and `setup_url` (generic: any SCIM 2.0 client).",
    )

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("Give the connection a name.")
        return value.strip()


#: Descriptions of the credential fields every credential serializer shows.
CREDENTIAL_FIELDS = {
    "id": {"help_text": "The credential's id."},
    "prefix": {
        "help_text": "The secret's first characters (a token's, a client secret's), to tell "
        "it apart; empty for kinds without a secret of their own."
    },
    "label": {"help_text": "A label for people, e.g. where it is used."},
    "created_at": {"help_text": "When it was issued."},
    "last_used_at": {"help_text": "When it last authenticated a request (null: never)."},
    "expires_at": {"help_text": "When it stops working (null: never)."},
    "revoked_at": {"help_text": "When it was revoked (null: it was not)."},
    "username": {"help_text": "basic: the generated username (null for other kinds)."},
    "issuer": {"help_text": "federated: the `iss` its assertions carry."},
    "subject": {"help_text": "federated: the `sub` its assertions carry."},
    "audience": {"help_text": "federated: the `aud` its assertions carry."},
    "jwks_url": {"help_text": "federated: where its signing keys are published."},
}


class TokenSerializer(serializers.ModelSerializer):
    is_usable = serializers.BooleanField(
        read_only=True, help_text="Neither revoked nor expired: it authenticates requests."
    )

    class Meta:
        model = Credential
        fields = [
            "id", "prefix", "label", "created_at", "last_used_at", "expires_at", "revoked_at",
            "is_usable",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = CREDENTIAL_FIELDS


class TokenCreateSerializer(serializers.Serializer):
    label = serializers.CharField(  # type: ignore[assignment]
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="A label for people, e.g. the year or where it is used.",
    )
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When it stops working, in the future (omitted or null: never).",
    )


class IssuedCredentialSerializer(TokenSerializer):
    token = serializers.CharField(
        read_only=True, help_text="The bearer token. Returned only here, only once."
    )

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class CredentialSerializer(serializers.ModelSerializer):
    """A credential of any kind, never its secret."""

    kind = serializers.ChoiceField(
        choices=CredentialKind.choices,
        read_only=True,
        help_text="bearer (a token), basic (username and password), client_secret (OAuth "
        "client credentials), federated (a JWT issuer's assertions) or authorization (an "
        "OAuth authorisation a tenant admin gave).",
    )
    display = serializers.CharField(
        read_only=True,
        help_text="What tells it apart: a token's or secret's first characters, a Basic "
        "username, a federated subject, an OAuth application's name.",
    )
    state = serializers.SerializerMethodField(help_text="active, expired or revoked.")
    is_usable = serializers.BooleanField(
        read_only=True, help_text="Neither revoked nor expired: it authenticates requests."
    )

    class Meta:
        model = Credential
        fields = [
            "id", "kind", "display", "prefix", "label", "username", "issuer", "subject",
            "audience", "jwks_url", "created_at", "last_used_at", "expires_at", "revoked_at",
            "state", "is_usable",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = CREDENTIAL_FIELDS

    @extend_schema_field(serializers.ChoiceField(choices=["active", "expired", "revoked"]))
    def get_state(self, credential: Credential) -> str:
        return credential.state


class CredentialCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=CredentialKind.choices,
        help_text="bearer, basic, client_secret or federated (an authorization is given on "
        "the authorisation page, never issued here).",
    )
    label = serializers.CharField(  # type: ignore[assignment]
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="A label for people, e.g. where it is used.",
    )
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When it stops working, in the future (omitted or null: never).",
    )
    issuer = serializers.URLField(
        max_length=500, required=False, default="", help_text="federated: the assertions' iss."
    )
    subject = serializers.CharField(
        max_length=500, required=False, default="", help_text="federated: the assertions' sub."
    )
    audience = serializers.CharField(
        max_length=500, required=False, default="", help_text="federated: the assertions' aud."
    )
    jwks_url = serializers.URLField(
        max_length=500,
        required=False,
        default="",
        help_text="federated: where its keys are (default: the jwks_uri of the issuer's "
        "OpenID configuration).",
    )

    FEDERATED_FIELDS = ("issuer", "subject", "audience", "jwks_url")

    def validate_kind(self, value: str) -> str:
        if value not in ISSUABLE_KINDS:
            raise serializers.ValidationError("An authorization cannot be issued here.")
        return value

    def validate_expires_at(self, value: Any) -> Any:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("A credential's expiry must be in the future.")
        return value

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["kind"] == CredentialKind.FEDERATED:
            missing = {
                name: "A federated issuer needs this."
                for name in ("issuer", "subject", "audience")
                if not str(data.get(name, "")).strip()
            }
            if missing:
                raise serializers.ValidationError(missing)
        else:
            extra = {
                name: "Only a federated issuer takes this."
                for name in self.FEDERATED_FIELDS
                if data.get(name)
            }
            if extra:
                raise serializers.ValidationError(extra)
            data = {
                name: value for name, value in data.items() if name not in self.FEDERATED_FIELDS
            }
        return data


class NewCredentialSerializer(CredentialSerializer):
    """A credential as issued: its secret, returned only in this response. Each field
    below is present only for the kinds it names (documentation only: the view builds
    the response with :func:`new_credential`)."""

    token = serializers.CharField(required=False, help_text="bearer: the token.")
    password = serializers.CharField(
        required=False, help_text="basic: the password (the username is `username`)."
    )
    client_id = serializers.CharField(
        required=False, help_text="client_secret and federated: the connection's OAuth client id."
    )
    client_secret = serializers.CharField(required=False, help_text="client_secret: the secret.")
    token_endpoint = serializers.CharField(
        required=False,
        help_text="client_secret and federated: where to exchange it for access tokens.",
    )

    class Meta(CredentialSerializer.Meta):
        fields = [
            *CredentialSerializer.Meta.fields, "token", "password", "client_id", "client_secret",
            "token_endpoint",
        ]  # fmt: skip
        read_only_fields = fields


def new_credential(issued: Any, context: dict[str, Any]) -> dict[str, Any]:
    """What the response that issues a credential carries: the credential and the parts
    of its secret its kind has (and nothing else: no empty secret fields)."""
    credential = issued.credential
    data: dict[str, Any] = dict(CredentialSerializer(credential).data)
    if credential.kind == CredentialKind.BEARER:
        data["token"] = issued.raw
    elif credential.kind == CredentialKind.BASIC:
        data["password"] = issued.raw
    else:
        data["client_id"] = credential.connection.oauth_client_id
        data["token_endpoint"] = Connection.token_endpoint(_base_url(context))
        if credential.kind == CredentialKind.CLIENT_SECRET:
            data["client_secret"] = issued.raw
    return data


class CreatedConnectionSerializer(ConnectionSerializer):
    token = serializers.CharField(
        read_only=True, help_text="The bearer token. Returned only here, only once."
    )

    class Meta(ConnectionSerializer.Meta):
        fields = [*ConnectionSerializer.Meta.fields, "token"]
        read_only_fields = fields


class DirectoryUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = DirectoryUser
        fields = [
            "id", "user_name", "external_id", "display_name", "email", "active", "role",
            "host_user", "created", "last_modified", "attributes",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": "Its SCIM id (the identity provider addresses it by it)."},
            "user_name": {"help_text": "Its SCIM userName, unique in the connection."},
            "external_id": {"help_text": "The identity provider's own id for it (externalId)."},
            "display_name": {"help_text": "Its SCIM displayName."},
            "email": {"help_text": "Its primary email (or the first one)."},
            "active": {
                "help_text": "Whether the identity provider says it is active (null: it never "
                "said, which counts as active)."
            },
            "role": {"help_text": "The role its groups give it in the account (empty: none)."},
            "host_user": {
                "help_text": "The primary key of the application's user it is linked to (null: "
                "none)."
            },
            "created": {"help_text": "When the identity provider created it."},
            "last_modified": {"help_text": "When the identity provider last changed it."},
            "attributes": {
                "help_text": "Everything else the identity provider sent, as SCIM JSON "
                "(emails, name, extensions…)."
            },
        }


class DirectoryGroupSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True, help_text="Its members.")

    class Meta:
        model = DirectoryGroup
        fields = [
            "id", "display_name", "external_id", "member_count", "created", "last_modified",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": "Its SCIM id."},
            "display_name": {"help_text": "Its SCIM displayName, unique in the connection."},
            "external_id": {"help_text": "The identity provider's own id for it (externalId)."},
            "created": {"help_text": "When the identity provider created it."},
            "last_modified": {"help_text": "When the identity provider last changed it."},
        }


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProvisioningEvent
        fields = [
            "number", "type", "resource_type", "resource_id", "changes", "actor", "created_at",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "number": {
                "help_text": "Its number in the connection's events: 1, 2, 3… in commit order "
                "(null for an account's own events)."
            },
            "type": {"help_text": "What happened, e.g. user.created (docs/events.md)."},
            "resource_type": {
                "help_text": "What it happened to: User, Group, Connection, Token, RoleMapping "
                "or Domain."
            },
            "resource_id": {"help_text": "The id of what it happened to."},
            "changes": {
                "help_text": 'What changed: attribute -> {"old": …, "new": …}, or the '
                "event's own details."
            },
            "actor": {
                "help_text": 'Who did it: {"type": "token", "prefix": …} for an identity '
                'provider, {"type": "user", …} for a person, {"type": '
                '"environment_key", …} for this API, {"type": "system"} otherwise.'
            },
            "created_at": {"help_text": "When it happened."},
        }


class EventPageSerializer(serializers.Serializer):
    events = EventSerializer(many=True, help_text="The events after `after`, in order.")
    next_after = serializers.IntegerField(
        help_text="Pass as ?after= to get the next events (the last number seen)."
    )
    has_more = serializers.BooleanField(help_text="More events wait: ask again now.")


def created_connection(connection: Connection, raw_token: str, context: dict[str, Any]) -> Any:
    data = CreatedConnectionSerializer(connection, context=context).data
    data["token"] = raw_token
    return data


class DomainSerializer(serializers.ModelSerializer):
    verified = serializers.BooleanField(
        source="is_verified",
        read_only=True,
        help_text="Its ownership is proven: the account's connections may claim people on it.",
    )
    verification_method = serializers.ChoiceField(
        choices=VerificationMethod.choices,
        allow_blank=True,
        read_only=True,
        help_text="How it was verified: dns (its TXT record) or staff (by the vendor's staff "
        "in Django admin); empty while unverified.",
    )
    record_name = serializers.CharField(
        read_only=True, help_text="Name of the TXT record that proves ownership."
    )
    record_value = serializers.CharField(read_only=True, help_text="Text the TXT record holds.")

    class Meta:
        model = AccountDomain
        fields = [
            "id", "domain", "verified", "verification_method", "verified_at", "record_name",
            "record_value", "last_checked_at", "last_check_error", "created_at",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": "The domain's id."},
            "domain": {"help_text": "The domain name, lower-case (IDNA-encoded: xn--…)."},
            "verified_at": {"help_text": "When it was verified (null: it is not)."},
            "last_checked_at": {"help_text": "When its TXT record was last looked up."},
            "last_check_error": {
                "help_text": "Why the last lookup failed, in words (empty if it passed)."
            },
            "created_at": {"help_text": "When it was added."},
        }


class DomainCreateSerializer(serializers.Serializer):
    domain = serializers.CharField(
        max_length=253, help_text="An email domain, e.g. example.com (IDN allowed)."
    )


class DomainCheckSerializer(serializers.Serializer):
    domain = DomainSerializer(help_text="The domain, after the lookup.")
    verified = serializers.BooleanField(help_text="Whether the domain is verified now.")
    reason = serializers.CharField(help_text="Why it is not verified (empty when it is).")


class AccountEventSerializer(EventSerializer):
    """An event of the account itself (its domains): no connection, no number."""

    class Meta(EventSerializer.Meta):
        fields = ["id", *EventSerializer.Meta.fields]
        read_only_fields = fields
        extra_kwargs = {
            **EventSerializer.Meta.extra_kwargs,
            "id": {"help_text": "Its id: increasing in commit order; poll with it."},
        }


class AccountEventPageSerializer(serializers.Serializer):
    events = AccountEventSerializer(many=True, help_text="The events after `after`, by id.")
    next_after = serializers.IntegerField(
        help_text="Pass as ?after= to get the next events (the last id seen)."
    )
    has_more = serializers.BooleanField(help_text="More events wait: ask again now.")
