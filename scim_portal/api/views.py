"""Management API views.

Per account (``accounts/<account>/…``): a person signed in to the site with the
account's provisioning permissions, or an environment key. Across accounts
(``connections/``): an environment key. Raw tokens appear only in the response that
issues them. Every view declares its own DRF policies (:class:`ApiView`): none of the
host's ``REST_FRAMEWORK`` defaults applies, except throttling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.metadata import SimpleMetadata
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.schemas.inspectors import ViewInspector
from rest_framework.settings import api_settings
from rest_framework.views import APIView, exception_handler

from .. import permissions
from .._language import EnglishAnswers
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
from . import examples
from .authentication import API_AUTHENTICATION_CLASSES
from .pagination import IdCursorPagination
from .permissions import AccountPermission, EnvironmentOnly, is_environment
from .schema import ApiSchema, extend_schema
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


def connections_queryset() -> QuerySet[Connection]:
    return (
        with_last_status(Connection.objects.with_counts())
        .select_related("account")
        .prefetch_related("credentials")
    )


class ApiView(EnglishAnswers, APIView):
    """Base of every management API view: its own authentication, permissions, parsers,
    renderers, content negotiation, pagination and exception handler, never the host's
    ``REST_FRAMEWORK`` defaults (which DRF reads into ``APIView``'s class attributes when
    it is first imported). Throttling stays the host's to set.

    Permissions default to environment keys only; views open up from there.
    """

    authentication_classes = list(API_AUTHENTICATION_CLASSES)
    permission_classes: list[Any] = [EnvironmentOnly]
    parser_classes: list[Any] = [JSONParser]
    renderer_classes: list[Any] = [JSONRenderer]
    content_negotiation_class = DefaultContentNegotiation
    metadata_class = SimpleMetadata
    versioning_class = None
    # For the views that are also GenericAPIView: no paging unless a view names one, no
    # host filter backends.
    pagination_class: Any = None
    filter_backends: Sequence[Any] = ()
    schema: ViewInspector | None = ApiSchema()
    #: The group of operations the view's operations are listed under in the reference.
    openapi_tag = ""

    def get_exception_handler(self) -> Any:
        return exception_handler

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
    openapi_tag = "Connections"
    pagination_class = IdCursorPagination
    serializer_class = ConnectionSerializer

    def get_queryset(self) -> QuerySet[Connection]:
        return connections_queryset().filter(account=self.account)

    @extend_schema(
        operation_id="list_connections",
        summary="List an account's connections",
        description="The account's connections, oldest first, with their status, SCIM URLs "
        "and user and group counts. Cursor-paged: follow `next` until it is null. Needs the "
        "read provisioning permission (or an environment key).",
        responses=ConnectionSerializer(many=True),
        examples=examples.CONNECTION_LIST,
    )
    def get(self, request: Request, account: str) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        data = ConnectionSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)

    @extend_schema(
        operation_id="create_connection",
        summary="Create a connection",
        description="Creates a connection for the account and issues its first bearer "
        "token. Hand the customer's identity provider admin `setup_url` (what they paste: "
        "for Entra ID it carries Entra's `?aadOptscim062020` flag) and `token`: the token "
        "is returned only in this response (`Cache-Control: no-store`), never again. Needs "
        "the create provisioning permission (or an environment key).",
        request=ConnectionCreateSerializer,
        responses={201: CreatedConnectionSerializer},
        examples=examples.CREATE_CONNECTION,
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
    openapi_tag = "Connections"

    @extend_schema(
        operation_id="get_connection",
        summary="Get a connection",
        description="One connection of the account: its status, SCIM URLs, counts and "
        "policies. 404 for a connection of another account.",
        responses=ConnectionSerializer,
        examples=examples.GET_CONNECTION,
    )
    def get(self, request: Request, account: str, connection_id: str) -> Response:
        connection = self.get_connection()
        return Response(ConnectionSerializer(connection, context={"request": request}).data)

    @extend_schema(
        operation_id="delete_connection",
        summary="Delete a connection",
        description="Revokes every credential of the connection at once, then deletes its "
        "directory. By default its users are deprovisioned in the application as the "
        "connection's deprovision policy says; `remove_directory=false` keeps the host users "
        "and their memberships. The deletion-preview operation tells the numbers first. "
        "Needs the delete provisioning permission.",
        parameters=[
            OpenApiParameter(
                "remove_directory",
                OpenApiTypes.BOOL,
                description="Also deprovision its users and groups (default true). False keeps "
                "the host users and their memberships.",
            )
        ],
        responses={204: OpenApiResponse(description="Deleted.")},
    )
    def delete(self, request: Request, account: str, connection_id: str) -> Response:
        connection = self.get_connection()
        raw = request.query_params.get("remove_directory", "true").lower()
        if raw not in {"true", "false", "1", "0"}:
            raise ApiValidationError({"remove_directory": "Use true or false."})
        delete_connection(connection, remove_directory=raw in {"true", "1"}, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokensView(AccountView):
    openapi_tag = "Credentials"

    @extend_schema(
        operation_id="list_tokens",
        summary="List a connection's bearer tokens",
        description="The connection's bearer tokens, newest first: prefix, label, dates and "
        "whether each still works, never a token's value. Credentials of every kind: "
        "list_credentials.",
        responses=TokenSerializer(many=True),
    )
    def get(self, request: Request, account: str, connection_id: str) -> Response:
        connection = self.get_connection()
        tokens = Credential.objects.filter(
            connection=connection, kind=CredentialKind.BEARER
        ).order_by("-created_at")
        return Response(TokenSerializer(tokens, many=True).data)

    @extend_schema(
        operation_id="issue_token",
        summary="Issue a bearer token (rotate)",
        description="A new bearer token for the connection, returned only in this response "
        "(`Cache-Control: no-store`). The connection's other tokens keep working until you "
        "revoke them, so the identity provider can switch without a gap. Needs the create "
        "provisioning permission.",
        request=TokenCreateSerializer,
        responses={201: IssuedCredentialSerializer},
        examples=examples.ISSUE_TOKEN,
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
    openapi_tag = "Credentials"
    write_permission = {"POST": permissions.DELETE}

    @extend_schema(
        operation_id="revoke_token",
        summary="Revoke a bearer token",
        description="The token stops working at once. 404 for a credential of another kind "
        "(revoke it with revoke_credential). Needs the delete provisioning permission.",
        request=None,
        responses=TokenSerializer,
    )
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
    openapi_tag = "Credentials"

    @extend_schema(
        operation_id="list_credentials",
        summary="List a connection's credentials",
        description="Every credential of the connection, newest first, of every kind: bearer "
        "tokens, HTTP Basic usernames, OAuth client secrets, federated issuers and the OAuth "
        "authorisations a tenant admin gave. Never a secret.",
        responses=CredentialSerializer(many=True),
    )
    def get(self, request: Request, account: str, connection_id: str) -> Response:
        connection = self.get_connection()
        credentials = Credential.objects.filter(connection=connection).order_by("-created_at")
        return Response(CredentialSerializer(credentials, many=True).data)

    @extend_schema(
        operation_id="issue_credential",
        summary="Issue a credential",
        description="Issues a credential of the given kind; the connection's other "
        "credentials keep working until revoked (rotation with overlap). The secret — "
        "`token` (bearer), `password` (basic), `client_secret` (client_secret) — is returned "
        "only in this response (`Cache-Control: no-store`). client_secret and federated "
        "credentials come with the connection's `client_id` and the `token_endpoint` the "
        "identity provider exchanges them at. Needs the create provisioning permission.",
        request=CredentialCreateSerializer,
        responses={201: NewCredentialSerializer},
        examples=examples.ISSUE_CREDENTIAL,
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
    openapi_tag = "Credentials"
    write_permission = {"POST": permissions.DELETE}

    @extend_schema(
        operation_id="revoke_credential",
        summary="Revoke a credential",
        description="The credential stops working at once, with every OAuth access token "
        "obtained with it. Needs the delete provisioning permission.",
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
    openapi_tag = "Directory"
    pagination_class = IdCursorPagination
    serializer_class = DirectoryUserSerializer

    @extend_schema(
        operation_id="list_directory_users",
        summary="List a connection's directory users",
        description="The users the identity provider provisioned through the connection, "
        "oldest first, with the host user each is linked to. Cursor-paged: follow `next`.",
        responses=DirectoryUserSerializer(many=True),
    )
    def get(self, request: Request, account: str, connection_id: str) -> Response:
        users = DirectoryUser.objects.filter(connection=self.get_connection())
        page = self.paginate_queryset(users)
        return self.get_paginated_response(DirectoryUserSerializer(page, many=True).data)


class DirectoryGroupsView(AccountView, generics.GenericAPIView):
    openapi_tag = "Directory"
    pagination_class = IdCursorPagination
    serializer_class = DirectoryGroupSerializer

    @extend_schema(
        operation_id="list_directory_groups",
        summary="List a connection's directory groups",
        description="The groups the identity provider provisioned through the connection, "
        "oldest first, with their member counts. Cursor-paged: follow `next`.",
        responses=DirectoryGroupSerializer(many=True),
    )
    def get(self, request: Request, account: str, connection_id: str) -> Response:
        groups = DirectoryGroup.objects.filter(connection=self.get_connection()).annotate(
            member_count=Count("groupmembership")
        )
        page = self.paginate_queryset(groups)
        return self.get_paginated_response(DirectoryGroupSerializer(page, many=True).data)


class EventsView(AccountView):
    openapi_tag = "Events"
    MAX_LIMIT = 500

    @extend_schema(
        operation_id="list_connection_events",
        summary="List a connection's provisioning events",
        description="The connection's events, numbered 1, 2, 3… in commit order. Poll with "
        "`after` set to the last number you saw (`next_after`): no event is ever skipped or "
        "repeated, also under concurrent writes. `has_more` says whether to ask again now.",
        parameters=[
            OpenApiParameter(
                "after", OpenApiTypes.INT, description="The last event number seen (0)."
            ),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description="At most this many events (100, up to 500)."
            ),
        ],
        responses=EventPageSerializer,
        examples=examples.EVENTS,
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

    openapi_tag = "Connections"
    permission_classes = [EnvironmentOnly]
    pagination_class = IdCursorPagination
    serializer_class = ConnectionSerializer

    @extend_schema(
        operation_id="list_all_connections",
        summary="List every connection of every account",
        description="Every connection of the environment, oldest first, or one account's "
        "with `account`. Environment keys only (a person gets 403). Cursor-paged: follow "
        "`next` until it is null.",
        parameters=[
            OpenApiParameter(
                "account", OpenApiTypes.STR, description="Only this account's (its lookup value)."
            )
        ],
        responses=ConnectionSerializer(many=True),
        examples=examples.CONNECTION_LIST,
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
    openapi_tag = "Domains"

    @extend_schema(
        operation_id="list_domains",
        summary="List an account's email domains",
        description="The account's email domains, verified or not, with the TXT record "
        "that proves ownership of each.",
        responses=DomainSerializer(many=True),
    )
    def get(self, request: Request, account: str) -> Response:
        domains = AccountDomain.objects.filter(account=self.account)
        return Response(DomainSerializer(domains, many=True).data)

    @extend_schema(
        operation_id="add_domain",
        summary="Add an email domain",
        description="The domain starts unverified: have the customer publish a TXT record "
        "named `record_name` holding `record_value`, then call verify_domain. Refused (400, "
        "under `domain`) when it is not a domain name, is already added, or is verified by "
        "another account. Needs the create provisioning permission.",
        request=DomainCreateSerializer,
        responses={201: DomainSerializer},
        examples=examples.ADD_DOMAIN,
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

    openapi_tag = "Domains"

    def get_domain(self) -> AccountDomain:
        try:
            return AccountDomain.objects.get(account=self.account, pk=self.kwargs["domain_id"])
        except AccountDomain.DoesNotExist:
            raise Http404("No such domain in this account.") from None


class DomainDetailView(DomainView):
    @extend_schema(
        operation_id="get_domain",
        summary="Get an email domain",
        description="One domain of the account, with its verification state and TXT record.",
        responses=DomainSerializer,
    )
    def get(self, request: Request, account: str, domain_id: int) -> Response:
        return Response(DomainSerializer(self.get_domain()).data)

    @extend_schema(
        operation_id="remove_domain",
        summary="Remove an email domain",
        description="The account's connections can no longer claim people through it; "
        "another account may then verify it. Needs the delete provisioning permission.",
        responses={204: OpenApiResponse(description="Removed.")},
    )
    def delete(self, request: Request, account: str, domain_id: int) -> Response:
        remove_domain(self.get_domain(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DomainVerifyView(DomainView):
    @extend_schema(
        operation_id="verify_domain",
        summary="Check an email domain's TXT record now",
        description="Looks the TXT record up now. 200 whatever the outcome: `verified` says "
        "whether the domain is verified, `reason` why not (no record, another value, DNS did "
        "not answer, verified by another account). Needs the create provisioning permission.",
        request=None,
        responses=DomainCheckSerializer,
        examples=examples.VERIFY_DOMAIN,
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
    openapi_tag = "Events"
    MAX_LIMIT = EventsView.MAX_LIMIT

    @extend_schema(
        operation_id="list_account_events",
        summary="List an account's own events",
        description="Events of the account itself rather than of a connection: changes of "
        "its email domains (`domain.added`, `domain.verified`, `domain.removed`), ordered by "
        "`id`. Poll with `after` set to the last id seen (`next_after`).",
        parameters=[
            OpenApiParameter("after", OpenApiTypes.INT, description="The last id seen (0)."),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description="At most this many events (100, up to 500)."
            ),
        ],
        responses=AccountEventPageSerializer,
    )
    def get(self, request: Request, account: str) -> Response:
        events = ProvisioningEvent.objects.filter(
            account_id=self.account.pk, connection__isnull=True
        )
        return _event_page(request, events, "id", AccountEventSerializer, self.MAX_LIMIT)
