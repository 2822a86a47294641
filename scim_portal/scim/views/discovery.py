"""Discovery endpoints (RFC 7644 section 4): ServiceProviderConfig, ResourceTypes, Schemas."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework.request import Request
from rest_framework.response import Response
from scim2_models import Context

from .. import schema
from ..authentication import usable_kinds
from ..exceptions import NotFound
from .base import ScimView, list_response


class ServiceProviderConfigView(ScimView):
    """The service's capabilities, with the authentication schemes of this connection."""

    def get(self, request: Request, connection_id: Any) -> Response:
        token_endpoint = request.build_absolute_uri(reverse("scim_portal:oauth-token"))
        schemes = schema.authentication_schemes(usable_kinds(self.connection.pk), token_endpoint)
        config = schema.service_provider_config(schemes)
        data = config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
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
            return Response(list_response(list(documents.values())))
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
            return Response(list_response(list(documents.values())))
        match = next((d for key, d in documents.items() if key.lower() == schema_id.lower()), None)
        if match is None:
            raise NotFound(f"No schema {schema_id!r}.")
        return Response(match)
