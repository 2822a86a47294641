"""The OpenAPI schema of the management API, and a docs page rendered from it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from ..conf import app_settings
from .schema import build_schema
from .views import ApiView


class SchemaView(ApiView):
    """The OpenAPI document, public (it holds no data), JSON."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    schema = None

    def get(self, request: Request) -> Response:
        return Response(build_schema(request))


def docs_page(request: HttpRequest) -> HttpResponse:
    """The API reference as plain HTML, rendered on the server (no CDN, no script)."""
    schema = build_schema(request)
    sections: dict[str, list[dict[str, Any]]] = {tag["name"]: [] for tag in schema["tags"]}
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            sections[operation["tags"][0]].append(
                {
                    "method": method.upper(),
                    "path": path,
                    "operation_id": operation["operationId"],
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": operation.get("parameters", []),
                    "responses": sorted(operation.get("responses", {})),
                }
            )
    return render(
        request,
        "scim_portal/api_docs.html",
        {
            "schema": schema,
            "server": schema["servers"][0]["url"],
            "sections": [
                {**tag, "operations": sections[tag["name"]]}
                for tag in schema["tags"]
                if sections[tag["name"]]
            ],
            "scim_portal_base_template": app_settings.BASE_TEMPLATE,
        },
    )


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return JsonResponse({"detail": "Not found."}, status=404)
