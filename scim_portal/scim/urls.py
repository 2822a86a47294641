"""SCIM endpoints of one connection, under ``scim/v2/<connection_id>/``."""

from __future__ import annotations

from django.urls import path, re_path

from . import views
from .resources import GROUPS, USERS

users = {"kind": USERS}
groups = {"kind": GROUPS}

urlpatterns = [
    path("", views.UnknownEndpointView.as_view(), name="scim-root"),
    path("ServiceProviderConfig", views.ServiceProviderConfigView.as_view()),
    path("ResourceTypes", views.ResourceTypesView.as_view()),
    path("ResourceTypes/<str:name>", views.ResourceTypesView.as_view()),
    path("Schemas", views.SchemasView.as_view()),
    path("Schemas/<str:schema_id>", views.SchemasView.as_view()),
    path(".search", views.RootSearchView.as_view()),
    path("Bulk", views.BulkView.as_view()),
    path("Users", views.ResourceListView.as_view(**users)),
    path("Users/.search", views.ResourceSearchView.as_view(**users)),
    path("Users/<str:resource_id>", views.ResourceDetailView.as_view(**users)),
    path("Groups", views.ResourceListView.as_view(**groups)),
    path("Groups/.search", views.ResourceSearchView.as_view(**groups)),
    path("Groups/<str:resource_id>", views.ResourceDetailView.as_view(**groups)),
    re_path(r"^.*$", views.UnknownEndpointView.as_view(), name="scim-unknown"),
]
