"""SCIM endpoints of one connection (RFC 7644). Every view authenticates the IdP
for the connection in the URL, reads and writes only that connection's
directory, logs the request, and answers SCIM JSON, errors included."""

from .base import NoSuchConnectionView, ScimView, UnknownEndpointView
from .bulk import BulkView
from .discovery import ResourceTypesView, SchemasView, ServiceProviderConfigView
from .resources import (
    ResourceDetailView,
    ResourceListView,
    ResourceSearchView,
    RootSearchView,
    SearchParameters,
)

__all__ = [
    "BulkView",
    "NoSuchConnectionView",
    "ResourceDetailView",
    "ResourceListView",
    "ResourceSearchView",
    "ResourceTypesView",
    "RootSearchView",
    "SchemasView",
    "ScimView",
    "SearchParameters",
    "ServiceProviderConfigView",
    "UnknownEndpointView",
]
