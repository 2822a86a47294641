"""What the management API reads and writes."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..accounts import url_key
from ..health import health
from ..models import (
    AccountDomain,
    Connection,
    Credential,
    DirectoryGroup,
    DirectoryUser,
    ProvisioningEvent,
)
from ..providers import provider_choices


class HealthSerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=["waiting", "healthy", "failing", "expiring", "unused"])
    label = serializers.CharField()  # type: ignore[assignment]
    explanation = serializers.CharField()


class ConnectionSerializer(serializers.ModelSerializer):
    account = serializers.SerializerMethodField()
    scim_url = serializers.SerializerMethodField(
        help_text="Base URL the identity provider calls (Entra ID: append ?aadOptscim062020)."
    )
    status = serializers.SerializerMethodField()
    user_count = serializers.IntegerField(read_only=True)
    group_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Connection
        fields = [
            "id", "account", "name", "provider", "status", "scim_url", "user_count",
            "group_count", "created_at", "last_request_at", "link_policy",
            "deprovision_policy", "default_role",
        ]  # fmt: skip
        read_only_fields = fields

    def get_account(self, connection: Connection) -> str:
        return url_key(connection.account)

    def get_scim_url(self, connection: Connection) -> str:
        request = self.context.get("request")
        base = request.build_absolute_uri("/") if request is not None else None
        return connection.scim_url(base)

    @extend_schema_field(HealthSerializer)
    def get_status(self, connection: Connection) -> dict[str, str]:
        state = health(connection)
        return {"key": state.key, "label": state.label, "explanation": state.explanation}


class ConnectionCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    provider = serializers.ChoiceField(choices=provider_choices())

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("Give the connection a name.")
        return value.strip()


class TokenSerializer(serializers.ModelSerializer):
    is_usable = serializers.BooleanField(read_only=True)

    class Meta:
        model = Credential
        fields = [
            "id", "prefix", "label", "created_at", "last_used_at", "expires_at", "revoked_at",
            "is_usable",
        ]  # fmt: skip
        read_only_fields = fields


class TokenCreateSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")  # type: ignore[assignment]
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class IssuedCredentialSerializer(TokenSerializer):
    token = serializers.CharField(
        read_only=True, help_text="The bearer token. Returned only here, only once."
    )

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


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


class DirectoryGroupSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = DirectoryGroup
        fields = [
            "id", "display_name", "external_id", "member_count", "created", "last_modified",
        ]  # fmt: skip
        read_only_fields = fields


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProvisioningEvent
        fields = [
            "number", "type", "resource_type", "resource_id", "changes", "actor", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class EventPageSerializer(serializers.Serializer):
    events = EventSerializer(many=True)
    next_after = serializers.IntegerField(
        help_text="Pass as ?after= to get the next events (the last number seen)."
    )
    has_more = serializers.BooleanField()


def created_connection(connection: Connection, raw_token: str, context: dict[str, Any]) -> Any:
    data = CreatedConnectionSerializer(connection, context=context).data
    data["token"] = raw_token
    return data


class DomainSerializer(serializers.ModelSerializer):
    verified = serializers.BooleanField(source="is_verified", read_only=True)
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


class DomainCreateSerializer(serializers.Serializer):
    domain = serializers.CharField(
        max_length=253, help_text="An email domain, e.g. example.com (IDN allowed)."
    )


class DomainCheckSerializer(serializers.Serializer):
    domain = DomainSerializer()
    verified = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why it is not verified (empty when it is).")


class AccountEventSerializer(EventSerializer):
    """An event of the account itself (its domains): no connection, no number."""

    class Meta(EventSerializer.Meta):
        fields = ["id", *EventSerializer.Meta.fields]
        read_only_fields = fields


class AccountEventPageSerializer(serializers.Serializer):
    events = AccountEventSerializer(many=True)
    next_after = serializers.IntegerField(
        help_text="Pass as ?after= to get the next events (the last id seen)."
    )
    has_more = serializers.BooleanField()
