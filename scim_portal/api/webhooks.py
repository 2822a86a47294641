"""Webhook endpoints in the management API (``webhook-endpoints/``).

Endpoints are the vendor's: an endpoint without an account receives every account's
directory changes, and any endpoint's URL decides where they go. So only an environment
key manages them — the same power as listing every account's connections — and never a
person signed in to the site, not even one with every permission on an
account (staff manage them in Django admin, with model permissions). Every change goes
through :mod:`scim_portal.delivery.endpoints`; a secret is in the one response that
makes it, sent ``no-store``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from ..accounts import account_from_url, url_key
from ..delivery import endpoints
from ..delivery.endpoints import with_backlog
from ..models import (
    DeliveryAttempt,
    DeliveryMethod,
    DeliveryOutcome,
    EndpointFormat,
    EndpointState,
    WebhookEndpoint,
)
from . import examples
from .pagination import IdCursorPagination, NewestFirstPagination
from .permissions import EnvironmentOnly
from .schema import extend_schema
from .views import ApiView, shown_once

# Serializers


class EndpointSecretSerializer(serializers.Serializer):
    prefix = serializers.CharField(help_text="The first characters of the secret, to tell it.")
    created_at = serializers.DateTimeField(help_text="When it was made.")
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="When it stops signing (set by a rotation; null: never)."
    )
    active = serializers.BooleanField(help_text="It still signs deliveries.")


class WebhookEndpointSerializer(serializers.ModelSerializer):
    state = serializers.CharField(
        read_only=True,
        help_text="enabled, paused, or disabled (turned off after failing for "
        "WEBHOOK_DISABLE_AFTER_DAYS; enable it again to resume).",
    )
    account = serializers.SerializerMethodField(
        help_text="Only this account's events (null: every account's)."
    )
    secrets = serializers.SerializerMethodField(
        help_text="Prefixes and expiry only: a secret is returned once, when it is made."
    )
    backlog = serializers.SerializerMethodField(
        help_text="Events written and not yet delivered, over all its connections."
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id", "url", "account", "format", "method", "event_types", "state",
            "failing_since", "description", "backlog", "secrets", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": "The endpoint's id."},
            "url": {"help_text": "Where events are POSTed (empty for a polled SET endpoint)."},
            "format": {
                "help_text": "standard-webhooks (signed JSON) or set (Security Event Tokens, "
                "RFC 9967)."
            },
            "method": {
                "help_text": "push (POSTed to the URL) or poll (the receiver polls, RFC 8936; "
                "SET endpoints only)."
            },
            "event_types": {
                "help_text": "Event types it receives; empty: all of them, including types "
                "added later."
            },
            "failing_since": {
                "help_text": "Since when every delivery to it failed (null while deliveries "
                "succeed)."
            },
            "description": {"help_text": "A description for people."},
            "created_at": {"help_text": "When it was added."},
            "updated_at": {"help_text": "When it last changed."},
        }

    @extend_schema_field(OpenApiTypes.STR)
    def get_account(self, endpoint: WebhookEndpoint) -> str | None:
        return url_key(endpoint.account) if endpoint.account_id is not None else None

    @extend_schema_field(EndpointSecretSerializer(many=True))
    def get_secrets(self, endpoint: WebhookEndpoint) -> list[dict[str, Any]]:
        return [
            {
                "prefix": secret.prefix,
                "created_at": secret.created_at,
                "expires_at": secret.expires_at,
                "active": secret.is_active(),
            }
            for secret in endpoint.secrets.all()
        ]

    @extend_schema_field(OpenApiTypes.INT)
    def get_backlog(self, endpoint: WebhookEndpoint) -> int:
        return int(getattr(endpoint, "backlog", 0) or 0)


class NewSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        help_text="The new secret (whsec_…), for a Standard Webhooks library or as the SET "
        "bearer token. Returned only in this response."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


def event_types_field() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=list(endpoints.EVENT_TYPES)),
        required=False,
        help_text="Event types it receives; empty: all of them, including types added later.",
    )


def _check_url(url: str) -> str:
    try:
        endpoints.validate_url(url)
    except ValidationError as exc:
        raise serializers.ValidationError(exc.messages[0]) from None
    return url


class EndpointCreateSerializer(serializers.Serializer):
    url = serializers.CharField(
        max_length=2000,
        required=False,
        default="",
        help_text="https and a public address; empty for a polled SET endpoint.",
    )
    format = serializers.ChoiceField(
        choices=EndpointFormat.choices,
        default=EndpointFormat.STANDARD_WEBHOOKS,
        help_text="standard-webhooks (signed JSON, the default) or set (Security Event "
        "Tokens, RFC 9967).",
    )
    method = serializers.ChoiceField(
        choices=DeliveryMethod.choices,
        default=DeliveryMethod.PUSH,
        help_text="push (the default: POSTed to the URL) or poll (the receiver polls, RFC "
        "8936; SET endpoints only, without a URL).",
    )
    account = serializers.CharField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Only this account's events (its URL key); omitted: every account's.",
    )
    event_types = event_types_field()
    description = serializers.CharField(
        max_length=200, required=False, default="", help_text="A description for people."
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["method"] == DeliveryMethod.POLL:
            if data["format"] != EndpointFormat.SET:
                raise serializers.ValidationError(
                    {"method": "Only SET endpoints can be polled (RFC 8936)."}
                )
            if data["url"]:
                raise serializers.ValidationError(
                    {"url": "A polled endpoint has no URL: the receiver calls the poll endpoint."}
                )
        else:
            try:
                _check_url(data["url"])
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"url": exc.detail}) from None
        return data


@extend_schema_field(OpenApiTypes.STR)
class StateField(serializers.ChoiceField):
    """Documented as a string: an enum named ``state`` would collide with the credentials'."""


class EndpointUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(
        max_length=2000,
        required=False,
        help_text="A new URL: https and a public address (not for a polled endpoint).",
    )
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="A description for people."
    )
    event_types = event_types_field()
    state = StateField(
        choices=[EndpointState.ENABLED.value, EndpointState.PAUSED.value],
        required=False,
        help_text="paused (events wait, in order) or enabled (deliver again; also resumes an "
        "endpoint disabled after failing).",
    )

    def validate_url(self, url: str) -> str:
        endpoint = self.context["endpoint"]
        if endpoint.method == DeliveryMethod.POLL:
            raise serializers.ValidationError("A polled endpoint has no URL.")
        return _check_url(url)


class RotateSecretSerializer(serializers.Serializer):
    overlap_hours = serializers.FloatField(
        required=False,
        min_value=0,
        max_value=24 * 30,
        help_text="Hours the current secret keeps signing beside the new one (default "
        "WEBHOOK_SECRET_OVERLAP_HOURS; 0 ends it now).",
    )


class ReplaySerializer(serializers.Serializer):
    connection = serializers.UUIDField(help_text="The connection whose events go again.")

    def get_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = super().get_fields()
        # "from" is a Python keyword, so it cannot be a class attribute.
        fields["from"] = serializers.IntegerField(
            min_value=1, help_text="The first event number delivered again."
        )
        return fields


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "id", "created_at", "connection_id", "event_number", "event_type", "attempt",
            "outcome", "status_code", "latency_ms", "error", "response_excerpt",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": "The attempt's id."},
            "created_at": {"help_text": "When it was made."},
            "connection_id": {
                "help_text": "The connection whose event it delivered (null: a test)."
            },
            "event_number": {"help_text": "The event's number in its connection (null: a test)."},
            "event_type": {"help_text": "The event's type, e.g. user.created."},
            "attempt": {"help_text": "1 for the first try at this event, 2 for the next…"},
            "outcome": {
                "help_text": "delivered, failed (will retry), dead (failed for the whole retry "
                "window: set aside), acknowledged (a polled SET) or test."
            },
            "status_code": {"help_text": "The receiver's HTTP status (null: no answer)."},
            "latency_ms": {"help_text": "How long the receiver took to answer, in ms."},
            "error": {"help_text": "What went wrong, in words (empty when delivered)."},
            "response_excerpt": {"help_text": "The start of the receiver's answer."},
        }


class TestResultSerializer(DeliveryAttemptSerializer):
    ok = serializers.SerializerMethodField(help_text="The receiver answered 2xx.")

    class Meta(DeliveryAttemptSerializer.Meta):
        fields = [*DeliveryAttemptSerializer.Meta.fields, "ok"]

    def get_ok(self, attempt: DeliveryAttempt) -> bool:
        return attempt.status_code is not None and 200 <= attempt.status_code < 300


def _refused(exc: ValidationError) -> ApiValidationError:
    """A service's refusal as a 400 with its reason."""
    return ApiValidationError({api_settings.NON_FIELD_ERRORS_KEY: exc.messages})


# Views


class EndpointView(ApiView):
    """Environment keys only (module docstring says why)."""

    openapi_tag = "Webhook endpoints"
    permission_classes = [EnvironmentOnly]

    def endpoints(self) -> Any:
        return (
            with_backlog(WebhookEndpoint.objects.all())
            .select_related("account")
            .prefetch_related("secrets")
        )

    def get_endpoint(self) -> WebhookEndpoint:
        try:
            endpoint: WebhookEndpoint = self.endpoints().get(pk=self.kwargs["endpoint_id"])
        except WebhookEndpoint.DoesNotExist:
            raise Http404("No such webhook endpoint.") from None
        return endpoint

    def who(self) -> str:
        """How the audit log names the caller (the environment key's name)."""
        return str(self.request.user.get_username())

    def represent(self, endpoint: WebhookEndpoint, **extra: Any) -> dict[str, Any]:
        fresh = self.endpoints().get(pk=endpoint.pk)
        return {**WebhookEndpointSerializer(fresh).data, **extra}


class WebhookEndpointsView(EndpointView, generics.GenericAPIView):
    pagination_class = IdCursorPagination
    serializer_class = WebhookEndpointSerializer

    @extend_schema(
        operation_id="list_webhook_endpoints",
        summary="List webhook endpoints",
        description="The environment's webhook endpoints, oldest first, cursor-paged, with "
        "their state, backlog and the prefixes of their secrets.",
        responses=WebhookEndpointSerializer(many=True),
        parameters=[
            OpenApiParameter(
                "account",
                OpenApiTypes.STR,
                description="Only the endpoints of this account (its lookup value).",
            )
        ],
    )
    def get(self, request: Request) -> Response:
        found = self.endpoints()
        account = request.query_params.get("account")
        if account:
            found = found.filter(account=account_from_url(request, account))
        page = self.paginate_queryset(found)
        return self.get_paginated_response(WebhookEndpointSerializer(page, many=True).data)

    @extend_schema(
        operation_id="add_webhook_endpoint",
        summary="Add a webhook endpoint",
        description="Events are delivered to it from now on. Returns the endpoint with its "
        "signing secret (`whsec_…`), which is never returned again (`Cache-Control: "
        "no-store`). A URL that is not https or not a public address is refused (400, with "
        "the reason under `url`).",
        request=EndpointCreateSerializer,
        responses={201: NewSecretSerializer},
        examples=examples.ADD_WEBHOOK_ENDPOINT,
    )
    def post(self, request: Request) -> Response:
        serializer = EndpointCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if data["account"] is not None:
            try:
                data["account"] = account_from_url(request, data["account"])
            except Http404:
                raise ApiValidationError({"account": ["No such account."]}) from None
        try:
            endpoint, issued = endpoints.add_endpoint(
                url=data["url"],
                format=data["format"],
                method=data["method"],
                account=data["account"],
                event_types=data.get("event_types", []),
                description=data["description"],
                actor=self.who(),
            )
        except ValidationError as exc:
            raise _refused(exc) from None
        return shown_once(self.represent(endpoint, secret=issued.raw))


class WebhookEndpointDetailView(EndpointView):
    @extend_schema(
        operation_id="get_webhook_endpoint",
        summary="Get a webhook endpoint",
        description="One webhook endpoint, with its state, backlog and secrets' prefixes.",
        responses=WebhookEndpointSerializer,
    )
    def get(self, request: Request, endpoint_id: str) -> Response:
        return Response(WebhookEndpointSerializer(self.get_endpoint()).data)

    @extend_schema(
        operation_id="update_webhook_endpoint",
        summary="Change a webhook endpoint, pause or resume it",
        description="Changes the fields given. `state: paused` holds events (in order) "
        "until `state: enabled`, which also resumes an endpoint disabled after failing.",
        request=EndpointUpdateSerializer,
        responses=WebhookEndpointSerializer,
    )
    def patch(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self.get_endpoint()
        serializer = EndpointUpdateSerializer(data=request.data, context={"endpoint": endpoint})
        serializer.is_valid(raise_exception=True)
        try:
            endpoints.update_endpoint(endpoint, actor=self.who(), **serializer.validated_data)
        except ValidationError as exc:
            raise _refused(exc) from None
        return Response(self.represent(endpoint))

    @extend_schema(
        operation_id="delete_webhook_endpoint",
        summary="Delete a webhook endpoint",
        description="Deletes it with its secrets, streams and delivery log; events no longer "
        "go there.",
        responses={204: OpenApiResponse(description="Deleted.")},
    )
    def delete(self, request: Request, endpoint_id: str) -> Response:
        endpoints.delete_endpoint(self.get_endpoint(), actor=self.who())
        return Response(status=status.HTTP_204_NO_CONTENT)


class RotateSecretView(EndpointView):
    @extend_schema(
        operation_id="rotate_webhook_secret",
        summary="Rotate a webhook endpoint's secret",
        description="Returns the endpoint with its new secret, returned only here. The "
        "current secrets keep signing beside it for `overlap_hours`: each delivery carries a "
        "signature per secret meanwhile, so the receiver switches at leisure.",
        request=RotateSecretSerializer,
        responses={201: NewSecretSerializer},
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self.get_endpoint()
        serializer = RotateSecretSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = endpoints.rotate_secret(
            endpoint, overlap_hours=serializer.validated_data.get("overlap_hours"), actor=self.who()
        )
        return shown_once(self.represent(endpoint, secret=issued.raw))


class SendTestView(EndpointView):
    @extend_schema(
        operation_id="send_webhook_test",
        summary="Send a test event to a webhook endpoint",
        description="Sends a signed `webhook.test` message now and returns the logged "
        "attempt; 200 whatever the receiver answered (`ok`, `status_code`, `error`).",
        request=None,
        responses=TestResultSerializer,
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        try:
            attempt = endpoints.send_test(self.get_endpoint(), actor=self.who())
        except ValidationError as exc:
            raise _refused(exc) from None
        return Response(TestResultSerializer(attempt).data)


class ReplayView(EndpointView):
    @extend_schema(
        operation_id="replay_webhook_events",
        summary="Replay a connection's events to a webhook endpoint",
        description="Delivers the connection's events again from number `from` on, in order, "
        "with their original `webhook-id` (202: queued).",
        request=ReplaySerializer,
        responses={202: ReplaySerializer},
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self.get_endpoint()
        serializer = ReplaySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        connection, number = (
            serializer.validated_data["connection"],
            serializer.validated_data["from"],
        )
        try:
            endpoints.replay(endpoint, connection, number, actor=self.who())
        except ValidationError as exc:
            raise _refused(exc) from None
        return Response(
            {"connection": str(connection), "from": number}, status=status.HTTP_202_ACCEPTED
        )


class DeliveriesView(EndpointView, generics.GenericAPIView):
    pagination_class = NewestFirstPagination
    serializer_class = DeliveryAttemptSerializer

    @extend_schema(
        operation_id="list_webhook_deliveries",
        summary="List a webhook endpoint's delivery attempts",
        description="The endpoint's delivery log, newest first, cursor-paged: every attempt "
        "at every event, with the receiver's status and latency.",
        responses=DeliveryAttemptSerializer(many=True),
        parameters=[
            OpenApiParameter(
                "outcome",
                OpenApiTypes.STR,
                enum=DeliveryOutcome.values,
                description="Only attempts with this outcome.",
            ),
            OpenApiParameter("connection", OpenApiTypes.UUID, description="Only this connection."),
        ],
    )
    def get(self, request: Request, endpoint_id: str) -> Response:
        attempts = DeliveryAttempt.objects.filter(endpoint=self.get_endpoint())
        outcome = request.query_params.get("outcome")
        if outcome:
            if outcome not in DeliveryOutcome.values:
                raise ApiValidationError(
                    {"outcome": [f"One of {', '.join(DeliveryOutcome.values)}."]}
                )
            attempts = attempts.filter(outcome=outcome)
        connection = request.query_params.get("connection")
        if connection:
            try:
                connection_id = uuid.UUID(connection)
            except ValueError:
                raise ApiValidationError({"connection": ["Not a connection id."]}) from None
            attempts = attempts.filter(connection_id=connection_id)
        page = self.paginate_queryset(attempts)
        return self.get_paginated_response(DeliveryAttemptSerializer(page, many=True).data)
