"""The OpenAPI schema of the management API, and a docs page rendered from it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from drf_spectacular.generators import SchemaGenerator
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..conf import app_settings


def build_schema() -> dict[str, Any]:
    """The OpenAPI 3 document of the management API (only its own endpoints)."""
    from . import urls

    patterns = [
        p for p in urls.urlpatterns if getattr(p, "name", "") not in {"schema", "docs", "not-found"}
    ]
    generator = SchemaGenerator(patterns=patterns)
    schema: dict[str, Any] = generator.get_schema(request=None, public=True)
    schema["info"] = {
        "title": "django-scim-portal management API",
        "version": "1",
        "description": "Create, list and delete SCIM connections of your customers' accounts, "
        "issue and revoke their credentials, read their directories, follow provisioning events, "
        "and manage the webhook endpoints events are delivered to.",
    }
    return schema


class SchemaView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    renderer_classes = [JSONRenderer]
    schema = None

    def get(self, request: Request) -> Response:
        return Response(build_schema())


def docs_page(request: HttpRequest) -> HttpResponse:
    """The API reference as plain HTML, rendered on the server (no CDN, no script)."""
    schema = build_schema()
    operations = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
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
            "operations": operations,
            "scim_portal_base_template": app_settings.BASE_TEMPLATE,
        },
    )


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return JsonResponse({"detail": "Not found."}, status=404)
