"""SCIM endpoints of one connection (RFC 7644). Every view authenticates the IdP
for the connection in the URL, reads and writes only that connection's
directory, logs the request, and answers SCIM JSON, errors included."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any, NoReturn

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.urls import reverse
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from scim2_models import Context

from ..conf import app_settings
from ..models import Connection
from ..provisioning.events import Actor
from . import exceptions, schema
from .authentication import BearerTokenAuthentication, ScimClient
from .exceptions import (
    InvalidValue,
    NotFound,
    PayloadTooLarge,
    scim_exception_handler,
)
from .filters import parse
from .limits import ConnectionRateThrottle
from .negotiation import (
    DepthLimitedJSONParser,
    ScimContentNegotiation,
    ScimJSONParser,
    ScimJSONRenderer,
)
from .operations import Outcome, ResourceOperations
from .paging import read_page, run_query
from .request_log import record
from .resources import GROUPS, USERS, ResourceKind, ResponseShape

logger = logging.getLogger("scim_portal.scim")

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


class ScimView(APIView):
    """Base of every SCIM endpoint: bearer auth, SCIM JSON in and out, SCIM errors,
    one request-log row per request."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [ScimJSONRenderer]
    parser_classes = [ScimJSONParser, DepthLimitedJSONParser]
    content_negotiation_class = ScimContentNegotiation
    throttle_classes = [ConnectionRateThrottle]

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
        self.warnings: list[str] = []
        self.scim_client: ScimClient | None = None
        request.scim_request_id = request_id_of(request)
        try:
            raw_body: bytes | None = request.body
        except RequestDataTooBig:
            raw_body = None
            self.oversized = True
            _drain(request)
        else:
            self.oversized = False
        self._raw_body = raw_body
        response = super().dispatch(request, *args, **kwargs)
        response["X-Request-ID"] = request.scim_request_id
        self._log(kwargs, response, raw_body, (time.perf_counter() - started) * 1000)
        return response

    #: Most bytes in this endpoint's request body (Bulk uses its own setting).
    def max_body_bytes(self) -> int:
        return int(app_settings.MAX_REQUEST_BYTES)

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        if isinstance(request.user, ScimClient):
            self.scim_client = request.user  # for the request log, whatever happens next

    def throttled(self, request: Request, wait: float | None) -> NoReturn:
        limit = app_settings.RATE_LIMIT_PER_MINUTE
        raise Throttled(
            wait=wait,
            detail=f"More than {limit} requests a minute for this connection; retry later.",
        )

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.oversized or len(self._raw_body or b"") > self.max_body_bytes():
            raise PayloadTooLarge(
                f"The request body is larger than this server accepts ({self.max_body_bytes()} "
                "bytes)."
            )
        # PostgreSQL text cannot hold NUL; refuse it before it reaches a query.
        if any("\x00" in value for values in request.query_params.lists() for value in values[1]):
            raise InvalidValue("The query string contains a NUL character.")
        if request.method in {"POST", "PUT", "PATCH"} and _contains_nul(request.data):
            raise InvalidValue("The request body contains a NUL character.")

    def _log(self, kwargs: dict[str, Any], response: Any, body: bytes | None, ms: float) -> None:
        """One request-log row; never raises (the answer matters more than its log line),
        and never authenticates again (the client is the one ``initial`` found)."""
        connection_id = kwargs.get("connection_id")
        if connection_id is None:
            return
        try:
            client = self.scim_client
            if client is None and not Connection.objects.filter(pk=connection_id).exists():
                return  # no such connection: nothing to attach the log to
            record(
                connection_id=connection_id,
                request=self.request,
                status=response.status_code,
                duration_ms=ms,
                request_body=body,
                response_data=getattr(response, "data", None),
                token_prefix=client.token.prefix if client is not None else "",
                warning=" ".join(self.warnings),
                request_id=getattr(self.request, "scim_request_id", ""),
            )
        except (OperationalError, InterfaceError) as exc:
            if response.status_code != 503:  # a 503 already said so in the log
                logger.warning("Could not record a SCIM request in the request log: %s", exc)
        except Exception:
            logger.exception("Could not record a SCIM request in the request log")

    # Shared helpers

    def base_url(self) -> str:
        root = reverse("scim_portal:scim-root", kwargs={"connection_id": self.connection.id})
        return self.request.build_absolute_uri(root).rstrip("/")

    def shape(self) -> ResponseShape:
        return ResponseShape.from_query(self.request.query_params)

    def actor(self) -> Actor:
        return Actor.for_token(self.client.token)

    def answer(self, outcome: Outcome) -> Response:
        """The response for ``outcome``; its warning goes to the request log."""
        if outcome.warning:
            self.warnings.append(outcome.warning)
        return outcome.response()


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def request_id_of(request: Any) -> str:
    """The request's id: the host's (``request.request_id``, as a request-id middleware
    sets it), the load balancer's ``X-Request-ID`` when it looks like one, or a new one.
    It is in the response's ``X-Request-ID``, the request log and error messages."""
    given = getattr(request, "request_id", None) or request.META.get("HTTP_X_REQUEST_ID", "")
    return str(given) if _REQUEST_ID.fullmatch(str(given)) else uuid.uuid4().hex[:16]


#: Most bytes of an oversized body read and thrown away before the 413, so the client
#: reads the answer instead of a reset connection; past this, the connection is closed.
MAX_DRAINED_BYTES = 16 * 1024 * 1024


def _drain(request: Any) -> None:
    """Read and discard the body Django refused to load (it is over
    ``DATA_UPLOAD_MAX_MEMORY_SIZE``), up to :data:`MAX_DRAINED_BYTES`."""
    left = MAX_DRAINED_BYTES
    try:
        while left > 0:
            chunk = request.read(min(65536, left))
            if not chunk:
                return
            left -= len(chunk)
    except OSError:
        return


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


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


class ResourceView(ScimView):
    kind: ResourceKind = USERS

    def operations(self) -> ResourceOperations:
        return ResourceOperations(
            self.kind, self.connection, self.base_url(), self.shape(), self.actor()
        )

    def search(self, params: SearchParameters) -> Response:
        kind = self.kind
        tree = parse(params.filter) if params.filter else None
        key = kind.query_builder().unique_key(tree) if tree is not None else None
        if key is None:
            total, page = run_query(kind, self.connection, params, tree)
            resources = kind.render_many(page, self.base_url(), params.shape)
            return Response(_list_response(resources, total, params.start))
        # A lookup by userName (or a group's displayName): at most one resource, read with
        # its groups in one statement through the unique index, no COUNT(*).
        found = self.operations().find(key, params.shape)
        total = 0 if found is None else 1
        resources = []
        if found is not None and params.start == 1 and params.count:
            obj, related = found
            resources = kind.render_many([obj], self.base_url(), params.shape, related)
        return Response(_list_response(resources, total, params.start))


class ResourceListView(ResourceView):
    def get(self, request: Request, connection_id: Any) -> Response:
        return self.search(SearchParameters.from_query(request.query_params))

    def post(self, request: Request, connection_id: Any) -> Response:
        return self.answer(self.operations().create(request.data))


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
            results.append((kind, queryset.count(), queryset))
        if not results:
            raise errors[0]
        total = sum(count for _kind, count, _qs in results)
        resources: list[dict[str, Any]] = []
        skip, room = params.start - 1, params.count
        for kind, count, queryset in results:
            if skip >= count:
                skip -= count
                continue
            page = read_page(kind, self.connection, queryset, ["id"], skip, room) if room else []
            skip = 0
            resources += kind.render_many(page, self.base_url(), params.shape)
            room -= len(page)
        return Response(_list_response(resources, total, params.start))


class ResourceDetailView(ResourceView):
    def get(self, request: Request, connection_id: Any, resource_id: str) -> Response:
        operations = self.operations()
        obj, related = operations.read(resource_id)
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match and obj.etag in {tag.strip() for tag in if_none_match.split(",")}:
            return Response(status=304, headers={"ETag": obj.etag})
        return operations.single(obj, related=related).response()

    def put(self, request: Request, connection_id: Any, resource_id: str) -> Response:
        if_match = request.headers.get("If-Match")
        return self.answer(self.operations().replace(resource_id, request.data, if_match))

    def patch(self, request: Request, connection_id: Any, resource_id: str) -> Response:
        if_match = request.headers.get("If-Match")
        wants_body = any(
            key in request.query_params for key in ("attributes", "excludedAttributes")
        )
        outcome = self.operations().patch(resource_id, request.data, if_match, wants_body)
        return self.answer(outcome)

    def delete(self, request: Request, connection_id: Any, resource_id: str) -> Response:
        if_match = request.headers.get("If-Match")
        return self.operations().delete(resource_id, if_match).response()


# Bulk (RFC 7644 section 3.7)

BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
_BULK_REFERENCE = re.compile(r"bulkId:([^\s/\"]+)")


class UnresolvedBulkId(exceptions.ScimError):
    status_code = 409
    scim_type = "invalidValue"


class BulkView(ScimView):
    """Several operations in one request, each in its own transaction, in order;
    ``bulkId:<id>`` in a later operation stands for the id an earlier POST created."""

    def max_body_bytes(self) -> int:
        return int(app_settings.BULK_MAX_PAYLOAD_SIZE)

    def post(self, request: Request, connection_id: Any) -> Response:
        body: Any = request.data
        if not isinstance(body, dict):
            raise exceptions.InvalidSyntax("A Bulk request body must be a JSON object.")
        operations = body.get("Operations")
        if not isinstance(operations, list):
            raise exceptions.InvalidSyntax("A Bulk request needs an 'Operations' list.")
        if len(operations) > app_settings.BULK_MAX_OPERATIONS:
            raise PayloadTooLarge(
                f"A Bulk request may hold at most {app_settings.BULK_MAX_OPERATIONS} operations."
            )
        fail_on_errors = _integer(body.get("failOnErrors"), "failOnErrors")
        created: dict[str, str] = {}
        results: list[dict[str, Any]] = []
        errors = 0
        for operation in operations:
            if fail_on_errors and errors >= fail_on_errors:
                break
            result = self._run(operation, created)
            errors += int(result["status"]) >= 400
            results.append(result)
        return Response({"schemas": [BULK_RESPONSE], "Operations": results})

    def _run(self, operation: Any, created: dict[str, str]) -> dict[str, Any]:
        if not isinstance(operation, dict):
            return _bulk_error({}, exceptions.InvalidSyntax("Each operation must be an object."))
        method = str(operation.get("method", "")).upper()
        bulk_id = operation.get("bulkId")
        entry: dict[str, Any] = {"method": method}
        if bulk_id is not None:
            entry["bulkId"] = bulk_id
        try:
            path = _resolve_bulk_ids(str(operation.get("path", "")), created)
            data = _resolve_bulk_ids(operation.get("data"), created)
            kind, resource_id = self._target(path, method)
            ops = ResourceOperations(
                kind, self.connection, self.base_url(), ResponseShape(), self.actor()
            )
            version = operation.get("version")
            if method == "POST":
                if not bulk_id:
                    raise InvalidValue("A POST operation needs a 'bulkId'.")
                outcome = ops.create(data)
                assert outcome.data is not None
                created[str(bulk_id)] = outcome.data["id"]
                resource_id = outcome.data["id"]
            elif method == "PUT":
                outcome = ops.replace(resource_id, data, version)
            elif method == "PATCH":
                outcome = ops.patch(resource_id, data, version)
            elif method == "DELETE":
                outcome = ops.delete(resource_id, version)
            else:
                raise InvalidValue(f"Unsupported Bulk method {method!r}.")
        except exceptions.ScimError as exc:
            return _bulk_error(entry, exc)
        except Exception as exc:
            logger.exception("Unhandled error in a Bulk operation", exc_info=exc)
            return _bulk_error(
                entry, exceptions.ScimError("The operation failed.", status_code=500)
            )
        if outcome.warning:
            self.warnings.append(outcome.warning)
        entry["status"] = str(outcome.status)
        if method != "DELETE":
            entry["location"] = f"{self.base_url()}/{kind.endpoint}/{resource_id}"
            if "ETag" in outcome.headers:
                entry["version"] = outcome.headers["ETag"]
        return entry

    @staticmethod
    def _target(path: str, method: str) -> tuple[ResourceKind, str]:
        parts = [part for part in path.split("/") if part]
        kinds = {"Users": USERS, "Groups": GROUPS}
        if not parts or parts[0] not in kinds or len(parts) > 2:
            raise InvalidValue(f"Unsupported Bulk path {path!r}.")
        if (method == "POST") != (len(parts) == 1):
            raise InvalidValue(f"{method} cannot target {path!r}.")
        return kinds[parts[0]], parts[1] if len(parts) == 2 else ""


def _resolve_bulk_ids(value: Any, created: dict[str, str]) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            if match[1] not in created:
                raise UnresolvedBulkId(
                    f"bulkId {match[1]!r} is not created by an earlier operation."
                )
            return created[match[1]]

        return _BULK_REFERENCE.sub(replace, value)
    if isinstance(value, list):
        return [_resolve_bulk_ids(item, created) for item in value]
    if isinstance(value, dict):
        return {key: _resolve_bulk_ids(item, created) for key, item in value.items()}
    return value


def _bulk_error(entry: dict[str, Any], exc: exceptions.ScimError) -> dict[str, Any]:
    detail = str(exc.detail)
    return {
        **entry,
        "status": str(exc.status_code),
        "response": exceptions.error_body(exc.status_code, detail, exc.scim_type),
    }
