"""SCIM views. Every view authenticates the IdP for the connection in the URL."""

from __future__ import annotations

from typing import Any

from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .authentication import BearerTokenAuthentication, ScimClient
from .exceptions import NotFound, scim_exception_handler
from .negotiation import ScimContentNegotiation, ScimJSONParser, ScimJSONRenderer


class ScimView(APIView):
    """Base of every SCIM endpoint: bearer auth, SCIM JSON in and out, SCIM errors."""

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
