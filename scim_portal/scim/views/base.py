"""The base of every SCIM endpoint: authentication, content negotiation, SCIM errors,
limits, request ids and one request-log row per request."""

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

from ..._language import EnglishAnswers
from ...conf import app_settings
from ...models import Connection
from ...provisioning.events import Actor
from ..authentication import ScimAuthentication, ScimClient
from ..exceptions import (
    InvalidValue,
    NotFound,
    PayloadTooLarge,
    scim_exception_handler,
)
from ..limits import ConnectionRateThrottle
from ..negotiation import (
    DepthLimitedJSONParser,
    ScimContentNegotiation,
    ScimJSONParser,
    ScimJSONRenderer,
    unstorable_in,
)
from ..operations import Outcome
from ..providers import Dialect, dialect_for
from ..request_log import record
from ..resources import ResponseShape

logger = logging.getLogger("scim_portal.scim")

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


class ScimView(EnglishAnswers, APIView):
    """Base of every SCIM endpoint: the connection's credentials, SCIM JSON in and out, SCIM errors,
    one request-log row per request."""

    authentication_classes = [ScimAuthentication]
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
        # Refuse what no database stores before it reaches a query.
        if found := unstorable_in(request.query_params.lists()):
            raise InvalidValue(f"The query string contains {found}.")
        if request.method in {"POST", "PUT", "PATCH"} and (found := unstorable_in(request.data)):
            raise InvalidValue(f"The request body contains {found}.")

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
                token_prefix=client.display if client is not None else "",
                credential_kind=client.credential.kind if client is not None else "",
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
        return Actor.for_credential(self.client.credential)

    def dialect(self) -> Dialect:
        """How this request's client speaks: its provider's normalisers first, found
        from the User-Agent and the connection (:mod:`scim_portal.scim.providers`)."""
        return dialect_for(self.connection.provider, self.request.headers.get("User-Agent", ""))

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


def list_response(
    resources: list[dict[str, Any]], total: int | None = None, start: int = 1
) -> dict:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources) if total is None else total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def integer_parameter(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidValue(f"'{name}' must be an integer.")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidValue(f"'{name}' must be an integer, not {value!r}.") from None
