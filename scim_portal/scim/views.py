"""SCIM endpoints of one connection (RFC 7644). Every view authenticates the IdP
for the connection in the URL, reads and writes only that connection's
directory, logs the request, and answers SCIM JSON, errors included."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig, ValidationError
from django.urls import reverse
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from scim2_models import Context, PatchOp
from scim2_models import SCIMException as ModelsScimException

from ..conf import app_settings
from ..models import Connection
from ..provisioning import directory
from ..provisioning.exceptions import (
    InvalidDocument,
    InvalidMembers,
    ResourceNotFound,
    UniquenessConflict,
    VersionMismatch,
)
from . import exceptions, schema
from .authentication import BearerTokenAuthentication, ScimClient
from .exceptions import (
    InvalidPath,
    InvalidValue,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    scim_exception_handler,
)
from .filters import _equal_values, parse
from .logging import record
from .negotiation import ScimContentNegotiation, ScimJSONParser, ScimJSONRenderer
from .quirks import normalize_patch_operations
from .resources import GROUPS, USERS, ResourceKind, ResponseShape, models_error

logger = logging.getLogger("scim_portal.scim")

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
GROUP_CORE = "urn:ietf:params:scim:schemas:core:2.0:group:"


def translate_provisioning_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the service layer's errors into SCIM errors."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ResourceNotFound as exc:
            raise NotFound(str(exc)) from exc
        except UniquenessConflict as exc:
            raise exceptions.Uniqueness(str(exc)) from exc
        except VersionMismatch as exc:
            raise PreconditionFailed(str(exc)) from exc
        except (InvalidMembers, InvalidDocument) as exc:
            raise InvalidValue(str(exc)) from exc
        except ModelsScimException as exc:
            raise models_error(exc) from exc

    return wrapper


class ScimView(APIView):
    """Base of every SCIM endpoint: bearer auth, SCIM JSON in and out, SCIM errors,
    one request-log row per request."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [ScimJSONRenderer]
    parser_classes = [ScimJSONParser, JSONParser]
    content_negotiation_class = ScimContentNegotiation
    throttle_classes: list[Any] = []

    def get_exception_handler(self) -> Any:
        return scim_exception_handler

    @property
    def client(self) -> ScimClient:
        return self.request.user  # type: ignore[return-value]

    @property
    def connection(self) -> Connection:
        return self.client.connection

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            raw_body: bytes | None = request.body
        except RequestDataTooBig:
            raw_body = None
            self.oversized = True
        else:
            self.oversized = False
        response = super().dispatch(request, *args, **kwargs)
        self._log(kwargs, response, raw_body, (time.perf_counter() - started) * 1000)
        return response

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.oversized:
            raise PayloadTooLarge("The request body is larger than this server accepts.")

    def _log(self, kwargs: dict[str, Any], response: Any, body: bytes | None, ms: float) -> None:
        connection_id = kwargs.get("connection_id")
        if connection_id is None:
            return
        user = getattr(self.request, "user", None) if hasattr(self, "request") else None
        token_prefix = ""
        if isinstance(user, ScimClient):
            token_prefix = user.token.prefix
        elif not Connection.objects.filter(pk=connection_id).exists():
            return  # no such connection: nothing to attach the log to
        try:
            record(
                connection_id=connection_id,
                request=self.request,
                status=response.status_code,
                duration_ms=ms,
                request_body=body,
                response_data=getattr(response, "data", None),
                token_prefix=token_prefix,
            )
        except Exception:  # the answer matters more than its log line
            logger.exception("Could not record a SCIM request in the request log")

    # Shared helpers

    def base_url(self) -> str:
        root = reverse("scim_portal:scim-root", kwargs={"connection_id": self.connection.id})
        return self.request.build_absolute_uri(root).rstrip("/")

    def shape(self) -> ResponseShape:
        return ResponseShape.from_query(self.request.query_params)


class UnknownEndpointView(ScimView):
    """Any path under a connection's SCIM prefix that names no endpoint."""

    def http_method_not_allowed(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        raise NotFound(f"There is no SCIM endpoint at {request.path}.")

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound(f"There is no SCIM endpoint at {request.path}.")

    post = put = patch = delete = get


class NoSuchConnectionView(UnknownEndpointView):
    """A path under the SCIM prefix whose connection id is not even a UUID."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


# Discovery (RFC 7644 section 4)


def _list_response(
    resources: list[dict[str, Any]], total: int | None = None, start: int = 1
) -> dict:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources) if total is None else total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


class ServiceProviderConfigView(ScimView):
    def get(self, request: Request, connection_id: Any) -> Response:
        data = schema.service_provider_config().model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        data["meta"] = {
            "resourceType": "ServiceProviderConfig",
            "location": f"{self.base_url()}/ServiceProviderConfig",
        }
        return Response(data)


class ResourceTypesView(ScimView):
    def _documents(self) -> dict[str, dict[str, Any]]:
        documents = {}
        for resource_type in schema.provider().resource_types:
            data = resource_type.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
            data["meta"] = {
                "resourceType": "ResourceType",
                "location": f"{self.base_url()}/ResourceTypes/{resource_type.id}",
            }
            documents[str(resource_type.id)] = data
        return documents

    def get(self, request: Request, connection_id: Any, name: str | None = None) -> Response:
        documents = self._documents()
        if name is None:
            return Response(_list_response(list(documents.values())))
        if name not in documents:
            raise NotFound(f"No resource type {name!r}.")
        return Response(documents[name])


class SchemasView(ScimView):
    def _documents(self) -> dict[str, dict[str, Any]]:
        documents = {}
        for item in schema.provider().schemas:
            data = item.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
            data["meta"] = {
                "resourceType": "Schema",
                "location": f"{self.base_url()}/Schemas/{item.id}",
            }
            documents[str(item.id)] = data
        return documents

    def get(self, request: Request, connection_id: Any, schema_id: str | None = None) -> Response:
        documents = self._documents()
        if schema_id is None:
            return Response(_list_response(list(documents.values())))
        match = next((d for key, d in documents.items() if key.lower() == schema_id.lower()), None)
        if match is None:
            raise NotFound(f"No schema {schema_id!r}.")
        return Response(match)


# Queries


def _integer(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidValue(f"'{name}' must be an integer.")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidValue(f"'{name}' must be an integer, not {value!r}.") from None


class SearchParameters:
    """filter, paging, sorting and attribute selection of a query (GET or .search)."""

    def __init__(self, source: dict[str, Any]) -> None:
        def get(name: str) -> Any:
            return next((v for k, v in source.items() if k.lower() == name.lower()), None)

        self.filter = get("filter")
        if self.filter is not None and not isinstance(self.filter, str):
            raise exceptions.InvalidFilter("'filter' must be a string.")
        start = _integer(get("startIndex"), "startIndex")
        self.start = max(1, start if start is not None else 1)
        count = _integer(get("count"), "count")
        count = app_settings.DEFAULT_PAGE_SIZE if count is None else count
        self.count = min(max(0, count), app_settings.MAX_PAGE_SIZE)
        self.sort_by = get("sortBy")
        sort_order = (get("sortOrder") or "ascending").lower()
        if sort_order not in {"ascending", "descending"}:
            raise InvalidValue("'sortOrder' must be 'ascending' or 'descending'.")
        self.descending = sort_order == "descending"

        def names(key: str) -> list[str]:
            value = get(key)
            if value is None:
                return []
            items = value if isinstance(value, list) else [value]
            return [part for item in items for part in str(item).split(",")]

        self.shape = ResponseShape(names("attributes"), names("excludedAttributes"))

    @classmethod
    def from_query(cls, query: Any) -> SearchParameters:
        flat: dict[str, Any] = {key: query.get(key) for key in query}
        for key in ("attributes", "excludedAttributes"):
            if key in query:
                flat[key] = query.getlist(key)
        return cls(flat)

    @classmethod
    def from_body(cls, body: Any) -> SearchParameters:
        if not isinstance(body, dict):
            raise exceptions.InvalidSyntax("A search request body must be a JSON object.")
        return cls(body)


def run_query(
    kind: ResourceKind, connection: Connection, params: SearchParameters
) -> tuple[int, list[Any]]:
    """``(total, page)`` of ``kind`` in ``connection`` for ``params``; 3 queries at most."""
    builder = kind.query_builder()
    queryset = kind.queryset(connection)
    if params.filter:
        queryset = queryset.filter(builder.build(params.filter))
    ordering = builder.order_by(params.sort_by, params.descending) if params.sort_by else ["id"]
    total = queryset.count()
    if params.count == 0 or params.start > total:
        return total, []
    offset = params.start - 1
    return total, list(queryset.order_by(*ordering)[offset : offset + params.count])


class ResourceView(ScimView):
    kind: ResourceKind = USERS

    def search(self, params: SearchParameters) -> Response:
        total, page = run_query(self.kind, self.connection, params)
        resources = self.kind.render_many(page, self.base_url(), params.shape)
        return Response(_list_response(resources, total, params.start))

    def single(self, obj: Any, shape: ResponseShape, status: int = 200) -> Response:
        related = self.kind.related_for([obj], self.base_url(), shape)
        document = self.kind.document(
            obj, self.base_url(), related.get(obj.id, []) if related is not None else None
        )
        headers = {"ETag": obj.etag}
        if status == 201:
            headers["Location"] = document["meta"]["location"]
        return Response(self.kind.render(document, shape), status=status, headers=headers)

    def get_object(self, resource_id: str) -> Any:
        try:
            return self.kind.queryset(self.connection).get(pk=resource_id)
        except (self.kind.model_class.DoesNotExist, ValidationError, ValueError, TypeError):
            raise NotFound(f"No {self.kind.name} with id {resource_id}.") from None


class ResourceListView(ResourceView):
    def get(self, request: Request, connection_id: Any) -> Response:
        return self.search(SearchParameters.from_query(request.query_params))

    @translate_provisioning_errors
    def post(self, request: Request, connection_id: Any) -> Response:
        document = self.kind.parse(request.data)
        obj: Any
        if self.kind is USERS:
            obj = directory.create_user(self.connection, document)
        else:
            obj = directory.create_group(self.connection, document, _member_values(request.data))
        return self.single(obj, self.shape(), status=201)


class ResourceSearchView(ResourceView):
    def post(self, request: Request, connection_id: Any) -> Response:
        return self.search(SearchParameters.from_body(request.data))


class RootSearchView(ScimView):
    """``POST /.search`` over users and groups (RFC 7644 section 3.4.3)."""

    def post(self, request: Request, connection_id: Any) -> Response:
        params = SearchParameters.from_body(request.data)
        results: list[tuple[ResourceKind, int, Any]] = []
        errors = []
        kinds: tuple[ResourceKind, ...] = (USERS, GROUPS)
        for kind in kinds:
            builder = kind.query_builder()
            queryset = kind.queryset(self.connection)
            if params.filter:
                try:
                    queryset = queryset.filter(builder.build(params.filter))
                except exceptions.InvalidFilter as exc:
                    errors.append(exc)  # an attribute of the other type: false here
                    continue
            results.append((kind, queryset.count(), queryset.order_by("id")))
        if not results:
            raise errors[0]
        total = sum(count for _kind, count, _qs in results)
        resources: list[dict[str, Any]] = []
        skip, room = params.start - 1, params.count
        for kind, count, queryset in results:
            if skip >= count:
                skip -= count
                continue
            page = list(queryset[skip : skip + room]) if room else []
            skip = 0
            resources += kind.render_many(page, self.base_url(), params.shape)
            room -= len(page)
        return Response(_list_response(resources, total, params.start))


class ResourceDetailView(ResourceView):
    def get(self, request: Request, connection_id: Any, resource_id: str) -> Response:
        obj = self.get_object(resource_id)
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match and obj.etag in {tag.strip() for tag in if_none_match.split(",")}:
            return Response(status=304, headers={"ETag": obj.etag})
        return self.single(obj, self.shape())

    @translate_provisioning_errors
    def put(self, request: Request, connection_id: Any, resource_id: str) -> Response:
        self.get_object(resource_id)
        document = self.kind.parse(request.data)
        if_match = request.headers.get("If-Match")
        obj: Any
        if self.kind is USERS:
            obj, _ = directory.update_user(
                self.connection, resource_id, lambda _user: document, if_match=if_match
            )
        else:
            members = directory.MemberChange("replace", tuple(_member_values(request.data)))
            obj, _ = directory.update_group(
                self.connection,
                resource_id,
                lambda _group: document,
                [members],
                if_match=if_match,
            )
        return self.single(obj, self.shape())

    @translate_provisioning_errors
    def patch(self, request: Request, connection_id: Any, resource_id: str) -> Response:
        self.get_object(resource_id)
        operations = normalize_patch_operations(request.data)
        if_match = request.headers.get("If-Match")
        base = self.base_url()
        obj: Any
        if self.kind is USERS:
            obj, _ = directory.update_user(
                self.connection,
                resource_id,
                lambda user: self._patched(user, operations, base),
                if_match=if_match,
            )
            return self.single(obj, self.shape())
        attribute_ops, member_changes = split_group_operations(operations)
        obj, _ = directory.update_group(
            self.connection,
            resource_id,
            (lambda group: self._patched(group, attribute_ops, base)) if attribute_ops else None,
            member_changes,
            if_match=if_match,
        )
        if "attributes" in request.query_params or "excludedAttributes" in request.query_params:
            return self.single(obj, self.shape())
        # A group can hold many thousands of members: answer without them.
        return Response(status=204, headers={"ETag": obj.etag})

    def _patched(self, obj: Any, operations: list[dict[str, Any]], base: str) -> dict[str, Any]:
        model: Any = self.kind.scim_model()
        with schema.POLICY:
            try:
                resource = model.model_validate(self.kind.document(obj, base, None))
                patch = PatchOp[model].model_validate(
                    {"schemas": [PATCH_OP], "Operations": operations}
                )
                patch.patch(resource)
            except ModelsScimException as exc:
                raise models_error(exc) from exc
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                raise InvalidValue(f"The PATCH request is not valid: {exc}") from exc
        return self.kind.stored(resource)

    @translate_provisioning_errors
    def delete(self, request: Request, connection_id: Any, resource_id: str) -> Response:
        self.get_object(resource_id)
        if_match = request.headers.get("If-Match")
        if self.kind is USERS:
            directory.delete_user(self.connection, resource_id, if_match=if_match)
        else:
            directory.delete_group(self.connection, resource_id, if_match=if_match)
        return Response(status=204)


# Group members in PATCH


def _member_values(value: Any) -> list[str]:
    """Ids from a ``members`` value: a list of ``{"value": id}`` (or one such object)."""
    if isinstance(value, dict) and not {"value"} <= {k.lower() for k in value}:
        value = next((v for k, v in value.items() if k.lower() == "members"), [])
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise InvalidValue('\'members\' must be a list of {"value": "<user id>"} objects.')
    ids = []
    for member in value:
        item = {k.lower(): v for k, v in member.items()} if isinstance(member, dict) else {}
        if not isinstance(item.get("value"), str):
            raise InvalidValue("Each member needs a 'value' with the user's id.")
        ids.append(item["value"])
    return ids


_MEMBERS_FILTER = re.compile(r"^members\[(?P<filter>.*)\]$", re.IGNORECASE | re.DOTALL)


def split_group_operations(
    operations: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[directory.MemberChange]]:
    """Separate member operations (applied as set operations in the database) from
    operations on the group's other attributes (applied by scim2-models)."""
    attribute_ops: list[dict[str, Any]] = []
    changes: list[directory.MemberChange] = []
    for operation in operations:
        op, path = operation["op"], operation.get("path")
        if not path:
            value = operation.get("value")
            if op in {"add", "replace"} and isinstance(value, dict):
                rest = {k: v for k, v in value.items() if k.lower() != "members"}
                if len(rest) != len(value):
                    values = tuple(_member_values(value))
                    change = directory.MemberChange("add" if op == "add" else "replace", values)
                    changes.append(change)
                if rest:
                    attribute_ops.append({**operation, "value": rest})
            else:
                attribute_ops.append(operation)
            continue
        bare = path.strip()
        if bare.lower().startswith(GROUP_CORE):
            bare = bare[len(GROUP_CORE) :]
        lowered = bare.lower()
        if lowered == "members":
            if op == "add":
                changes.append(
                    directory.MemberChange("add", tuple(_member_values(operation.get("value"))))
                )
            elif op == "replace":
                changes.append(
                    directory.MemberChange("replace", tuple(_member_values(operation.get("value"))))
                )
            elif op == "remove" and operation.get("value"):
                # Entra without aadOptscim062020: the value lists the members to remove.
                changes.append(
                    directory.MemberChange("remove", tuple(_member_values(operation["value"])))
                )
            else:
                changes.append(directory.MemberChange("remove_all"))
        elif lowered.startswith("members["):
            match = _MEMBERS_FILTER.match(bare)
            if match is None or op != "remove":
                raise InvalidPath(f"Unsupported members path {path!r} for '{op}'.")
            ids = [str(v) for v in _equal_values(parse(match["filter"], None))]
            changes.append(directory.MemberChange("remove", tuple(ids)))
        elif lowered.startswith("members"):
            raise InvalidPath(f"Unsupported members path {path!r}.")
        else:
            attribute_ops.append(operation)
    return attribute_ops, changes
