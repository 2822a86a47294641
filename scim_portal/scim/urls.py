"""SCIM endpoints of one connection, under ``scim/v2/<connection_id>/``."""

from __future__ import annotations

from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^$", views.UnknownEndpointView.as_view(), name="scim-root"),
    re_path(r"^.*$", views.UnknownEndpointView.as_view(), name="scim-unknown"),
]
