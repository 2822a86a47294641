"""Management API views.

Per account (``accounts/<account>/…``): a person with the account's provisioning
permissions (authenticated the way the host's DRF settings say: session, token…)
or an environment key. Across accounts (``connections/``): an environment key.
Raw tokens appear only in the response that issues them.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import Http404
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from drf_spectacular.utils import extend_schema as _extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from .. import permissions
from ..accounts import account_from_url
from ..health import with_last_status
from ..models import (
    AccountDomain,
    Connection,
    Credential,
    CredentialKind,
    DirectoryGroup,
    DirectoryUser,
    ProvisioningEvent,
)
from ..provisioning import (
    create_connection,
    delete_connection,
    issue_credential,
    issue_token,
    revoke_credential,
)
from ..provisioning.domains import add_domain, remove_domain, verify_domain
from ..provisioning.events import Actor
from ..provisioning.exceptions import DomainError
from .authentication import EnvironmentKeyAuthentication
from .pagination import IdCursorPagination
from .permissions import AccountPermission, EnvironmentOnly, is_environment
from .serializers import (
    AccountEventPageSerializer,
    AccountEventSerializer,
    ConnectionCreateSerializer,
    ConnectionSerializer,
    CreatedConnectionSerializer,
    CredentialCreateSerializer,
    CredentialSerializer,
    DirectoryGroupSerializer,
    DirectoryUserSerializer,
    DomainCheckSerializer,
    DomainCreateSerializer,
    DomainSerializer,
    EventPageSerializer,
    EventSerializer,
    IssuedCredentialSerializer,
    NewCredentialSerializer,
    TokenCreateSerializer,
    TokenSerializer,
    created_connection,
    new_credential,
)

WRITE_PERMISSION = {"POST": permissions.CREATE, "DELETE": permissions.DELETE}


def shown_once(data: Any) -> Response:
    """A 201 that carries a secret: never stored by a cache on the way."""
    response = Response(data, status=status.HTTP_201_CREATED)
    response["Cache-Control"] = "no-store"
    return response


def extend_schema(**kwargs: Any) -> Any:
    """drf-spectacular's ``extend_schema``, built on its AutoSchema whatever the host's
    ``DEFAULT_SCHEMA_CLASS``, so documenting this API needs no host setting."""

    def decorator(function: Any) -> Any:
        function.schema = AutoSchema
        return _extend_schema(**kwargs)(function)

    return decorator


def connections_queryset() -> QuerySet[Connection]:
    return (
        with_last_status(Connection.objects.with_counts())
        .select_related("account")
        .prefetch_related("credentials")
    )


class ApiView(APIView):
    """Base: environment keys first, then the host's own DRF authentication."""

    schema = AutoSchema()
    renderer_classes = [JSONRenderer]

    def get_authenticators(self) -> list[Any]:
        host_classes: list[Any] = list(api_settings.DEFAULT_AUTHENTICATION_CLASSES)
        return [EnvironmentKeyAuthentication()] + [auth() for auth in host_classes]

    @property
    def actor(self) -> Actor:
        if is_environment(self.request):
            return Actor.for_environment_key(self.request.auth)
        return Actor.for_user(self.request.user, via="api")


class AccountView(ApiView):
    """A view under ``accounts/<account>/``."""

    permission_classes = [AccountPermission]
    #: Permission needed per method beyond reading.
    write_permission = WRITE_PERMISSION

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self.account = account_from_url(request, kwargs["account"])
        super().initial(request, *args, **kwargs)

    def permission_for(self, request: Request) -> str:
        return self.write_permission.get(request.method or "GET", permissions.READ)

    def get_connection(self) -> Connection:
        try:
            return connections_queryset().get(pk=self.kwargs["connection_id"], account=self.account)
        except (Connection.DoesNotExist, ValidationError):
            raise Http404("No such connection in this account.") from None


class AccountConnectionsView(AccountView, generics.GenericAPIView):
    pagination_class = IdCursorPagination
    serializer_class = ConnectionSerializer

    def get_queryset(self) -> QuerySet[Connection]:
        return connections_queryset().filter(account=self.account)

    @extend_schema(
        summary="List the account's connections", responses=ConnectionSerializer(many=True)
    )
    def get(self, request: Request, account: str) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        data = ConnectionSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="Create a connection",
        description="Returns the connection with its SCIM URL and bearer token; the token is "
        "never returned again.",
        request=ConnectionCreateSerializer,
        responses={201: CreatedConnectionSerializer},
    )
    def post(self, request: Request, account: str) -> Response:
        serializer = ConnectionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = None if is_environment(request) else request.user
        connection, issued = create_connection(
            account=self.account, created_by=user, actor=self.actor, **serializer.validated_data
        )
        connection = connections_queryset().get(pk=connection.pk)
        data = created_connection(connection, issued.raw, {"request": request})
        return shown_once(data)


class AccountConnectionDetailView(AccountView):
    @extend_schema(summary="Get a connection", responses=ConnectionSerializer)
    def get(self, request: Request, account: str, connection_id: str) -> Response:
        connection = self.get_connection()
        return Response(ConnectionSerializer(connection, context={"request": request}).data)

    @extend_schema(
        summary="Delete a connection",
        parameters=[
            OpenApiParameter(
                "remove_directory",
                OpenApiTypes.BOOL,
                description="Also deprovision its users and groups (default true). False keeps "
                "the host users and their memberships.",
            )
        ],
        responses={204: None},
    )
    def delete(self, request: Request, account: str, connection_id: str) -> Response:
        connection = self.get_connection()
        raw = request.query_params.get("remove_directory", "true").lower()
        if raw not in {"true", "false", "1", "0"}:
            raise ApiValidationError({"remove_directory": "Use true or false."})
        delete_connection(connection, remove_directory=raw in {"true", "1"}, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokensView(AccountView):
    @extend_schema(
        summary="List a connection's bearer tokens",
        description="Bearer tokens only; every kind of credential: `credentials/`.",
        responses=TokenSerializer(many=True),
    )
    def get(self, request: Request, account: str, connection_id: str) -> Response:
        connection = self.get_connection()
        tokens = Credential.objects.filter(
            connection=connection, kind=CredentialKind.BEARER
        ).order_by("-created_at")
        return Response(TokenSerializer(tokens, many=True).data)

    @extend_schema(
        summary="Issue a token (rotate)",
        description="Older tokens keep working until revoked. The token is returned only here.",
        request=TokenCreateSerializer,
        responses={201: IssuedCredentialSerializer},
    )
    def post(self, request: Request, account: str, connection_id: str) -> Response:
        connection = self.get_connection()
        serializer = TokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = None if is_environment(request) else request.user
        try:
            issued = issue_token(
                connection, created_by=user, actor=self.actor, **serializer.validated_data
            )
        except ValueError as exc:
            raise ApiValidationError({"expires_at": str(exc)}) from exc
        data = IssuedCredentialSerializer(issued.token).data
        data["token"] = issued.raw
        return shown_once(data)


class TokenRevokeView(AccountView):
    write_permission = {"POST": permissions.DELETE}

    @extend_schema(summary="Revoke a bearer token", request=None, responses=TokenSerializer)
    def post(self, request: Request, account: str, connection_id: str, token_id: int) -> Response:
        connection = self.get_connection()
        try:
            token = Credential.objects.get(
                connection=connection, pk=token_id, kind=CredentialKind.BEARER
            )
        except Credential.DoesNotExist:
            raise Http404("No such token.") from None
        return Response(TokenSerializer(revoke_credential(token, actor=self.actor)).data)


class CredentialsView(AccountView):
    @extend_schema(
        summary="List a connection's credentials",
        description="Every kind: bearer tokens, Basic usernames, OAuth client secrets, "
        "federated issuers and OAuth authorisations; never a secret.",
        responses=CredentialSerializer(many=True),
    )
    def get(self, request: Request, account: str, connection_id: str) -> Response:
        connection = self.get_connection()
        credentials = Credential.objects.filter(connection=connection).order_by("-created_at")
        return Response(CredentialSerializer(credentials, many=True).data)

    @extend_schema(
        summary="Issue a credential",
        description="The connection's other credentials keep working until revoked (rotation "
        "with overlap). The secret — `token` (bearer), `password` (basic), `client_secret` "
        "(client_secret) — is returned only in this response. client_secret and federated "
        "credentials come with the connection's `client_id` and the `token_endpoint`.",
        request=CredentialCreateSerializer,
        responses={201: NewCredentialSerializer},
    )
    def post(self, request: Request, account: str, connection_id: str) -> Response:
        connection = self.get_connection()
        serializer = CredentialCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        user = None if is_environment(request) else request.user
        try:
            issued = issue_credential(
                connection, fields.pop("kind"), created_by=user, actor=self.actor, **fields
            )
        except ValueError as exc:
            raise ApiValidationError({api_settings.NON_FIELD_ERRORS_KEY: [str(exc)]}) from exc
        return shown_once(new_credential(issued, {"request": request}))


class CredentialRevokeView(AccountView):
    write_permission = {"POST": permissions.DELETE}

    @extend_schema(
        summary="Revoke a credential",
        description="At once, with every access token it obtained.",
        request=None,
        responses=CredentialSerializer,
    )
    def post(
        self, request: Request, account: str, connection_id: str, credential_id: int
    ) -> Response:
        connection = self.get_connection()
        try:
            credential = Credential.objects.get(connection=connection, pk=credential_id)
        except Credential.DoesNotExist:
            raise Http404("No such credential.") from None
        revoked = revoke_credential(credential, actor=self.actor)
        return Response(CredentialSerializer(revoked).data)


class DirectoryUsersView(AccountView, generics.GenericAPIView):
    pagination_class = IdCursorPagination
    serializer_class = DirectoryUserSerializer

    @extend_schema(summary="List a connection's directory users")
    def get(self, request: Request, account: str, connection_id: str) -> Response:
        users = DirectoryUser.objects.filter(connection=self.get_connection())
        page = self.paginate_queryset(users)
        return self.get_paginated_response(DirectoryUserSerializer(page, many=True).data)


class DirectoryGroupsView(AccountView, generics.GenericAPIView):
    pagination_class = IdCursorPagination
    serializer_class = DirectoryGroupSerializer

    @extend_schema(summary="List a connection's directory groups")
    def get(self, request: Request, account: str, connection_id: str) -> Response:
        groups = DirectoryGroup.objects.filter(connection=self.get_connection()).annotate(
            member_count=Count("groupmembership")
        )
        page = self.paginate_queryset(groups)
        return self.get_paginated_response(DirectoryGroupSerializer(page, many=True).data)


class EventsView(AccountView):
    MAX_LIMIT = 500

    @extend_schema(
        summary="Provisioning events, in order",
        description="Events numbered 1, 2, 3… per connection in commit order. Poll with "
        "?after=<last number seen>: no event is ever skipped or repeated.",
        parameters=[
            OpenApiParameter("after", OpenApiTypes.INT, description="Last number seen (0)."),
            OpenApiParameter("limit", OpenApiTypes.INT, description="At most this many (100)."),
        ],
        responses=EventPageSerializer,
    )
    def get(self, request: Request, account: str, connection_id: str) -> Response:
        events = ProvisioningEvent.objects.filter(connection=self.get_connection())
        return _event_page(request, events, "number", EventSerializer, self.MAX_LIMIT)


def _event_page(
    request: Request, events: QuerySet[ProvisioningEvent], key: str, serializer: Any, most: int
) -> Response:
    """The events after ``?after=`` (by ``key``, ascending), at most ``?limit=`` of them."""
    after = _non_negative(request.query_params.get("after", "0"), "after")
    limit = min(_non_negative(request.query_params.get("limit", "100"), "limit"), most)
    page = list(events.filter(**{f"{key}__gt": after}).order_by(key)[: limit + 1])
    has_more = len(page) > limit
    page = page[:limit]
    return Response(
        {
            "events": serializer(page, many=True).data,
            "next_after": getattr(page[-1], key) if page else after,
            "has_more": has_more,
        }
    )


def _non_negative(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ApiValidationError({name: "Must be a whole number."}) from None
    if number < 0:
        raise ApiValidationError({name: "Must not be negative."})
    return number


class AllConnectionsView(ApiView, generics.GenericAPIView):
    """Every connection of the environment (environment key only)."""

    permission_classes = [EnvironmentOnly]
    pagination_class = IdCursorPagination
    serializer_class = ConnectionSerializer

    @extend_schema(
        summary="List every connection of every account",
        parameters=[
            OpenApiParameter("account", OpenApiTypes.STR, description="Only this account.")
        ],
    )
    def get(self, request: Request) -> Response:
        connections = connections_queryset()
        account = request.query_params.get("account")
        if account:
            connections = connections.filter(account=account_from_url(request, account))
        page = self.paginate_queryset(connections)
        data = ConnectionSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)


# Verified domains and account events


class DomainsView(AccountView):
    @extend_schema(summary="List the account's domains", responses=DomainSerializer(many=True))
    def get(self, request: Request, account: str) -> Response:
        domains = AccountDomain.objects.filter(account=self.account)
        return Response(DomainSerializer(domains, many=True).data)

    @extend_schema(
        summary="Add a domain",
        description="The domain starts unverified: publish a TXT record named `record_name` "
        "holding `record_value`, then call verify. Refused (400) when it is not a domain name, "
        "is already added, or is verified by another account.",
        request=DomainCreateSerializer,
        responses={201: DomainSerializer},
    )
    def post(self, request: Request, account: str) -> Response:
        serializer = DomainCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            domain = add_domain(self.account, serializer.validated_data["domain"], actor=self.actor)
        except DomainError as exc:
            raise ApiValidationError({"domain": [str(exc)]}) from exc
        return Response(DomainSerializer(domain).data, status=status.HTTP_201_CREATED)


class DomainView(AccountView):
    """A view under ``accounts/<account>/domains/<id>/``."""

    def get_domain(self) -> AccountDomain:
        try:
            return AccountDomain.objects.get(account=self.account, pk=self.kwargs["domain_id"])
        except AccountDomain.DoesNotExist:
            raise Http404("No such domain in this account.") from None


class DomainDetailView(DomainView):
    @extend_schema(summary="Get a domain", responses=DomainSerializer)
    def get(self, request: Request, account: str, domain_id: int) -> Response:
        return Response(DomainSerializer(self.get_domain()).data)

    @extend_schema(
        summary="Remove a domain",
        description="Its people can no longer be claimed through it; another account may "
        "then verify it.",
        responses={204: None},
    )
    def delete(self, request: Request, account: str, domain_id: int) -> Response:
        remove_domain(self.get_domain(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DomainVerifyView(DomainView):
    @extend_schema(
        summary="Check a domain's TXT record now",
        description="200 whatever the outcome: `verified` says whether the domain is verified "
        "and `reason` why not (no record, another value, DNS did not answer, verified by "
        "another account).",
        request=None,
        responses=DomainCheckSerializer,
    )
    def post(self, request: Request, account: str, domain_id: int) -> Response:
        domain = self.get_domain()
        try:
            verified = verify_domain(domain, actor=self.actor)
        except DomainError as exc:  # removed meanwhile
            raise Http404(str(exc)) from exc
        reason = "" if verified else domain.last_check_error
        return Response(
            {"domain": DomainSerializer(domain).data, "verified": verified, "reason": reason}
        )


class AccountEventsView(AccountView):
    MAX_LIMIT = EventsView.MAX_LIMIT

    @extend_schema(
        summary="Events of the account itself, in order",
        description="Changes of the account's verified domains (events without a connection), "
        "ordered by id. Poll with ?after=<last id seen>.",
        parameters=[
            OpenApiParameter("after", OpenApiTypes.INT, description="Last id seen (0)."),
            OpenApiParameter("limit", OpenApiTypes.INT, description="At most this many (100)."),
        ],
        responses=AccountEventPageSerializer,
    )
    def get(self, request: Request, account: str) -> Response:
        events = ProvisioningEvent.objects.filter(
            account_id=self.account.pk, connection__isnull=True
        )
        return _event_page(request, events, "id", AccountEventSerializer, self.MAX_LIMIT)
