"""The OAuth server of SCIM connections, under ``scim/oauth/``."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("token", views.TokenView.as_view(), name="oauth-token"),
    path("authorize", views.AuthorizeView.as_view(), name="oauth-authorize"),
]
