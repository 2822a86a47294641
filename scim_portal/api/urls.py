"""Management API URLs, under ``api/v1/``."""

from __future__ import annotations

from django.urls import path, re_path

from . import docs, drift, views, webhooks
from .safety import (
    DeletedUsersView,
    DeletionPreviewView,
    HeldApproveView,
    HeldPreviewView,
    HeldRejectView,
    HeldView,
    RestoreView,
)

app_name = "api"

account = "accounts/<str:account>/"
connection = account + "connections/<uuid:connection_id>/"
domain = account + "domains/<int:domain_id>/"
endpoint = "webhook-endpoints/<uuid:endpoint_id>/"

urlpatterns = [
    path("connections/", views.AllConnectionsView.as_view(), name="all-connections"),
    path(account + "connections/", views.AccountConnectionsView.as_view(), name="connections"),
    path(connection, views.AccountConnectionDetailView.as_view(), name="connection"),
    path(connection + "tokens/", views.TokensView.as_view(), name="tokens"),
    path(
        connection + "tokens/<int:token_id>/revoke/",
        views.TokenRevokeView.as_view(),
        name="token-revoke",
    ),
    path(connection + "credentials/", views.CredentialsView.as_view(), name="credentials"),
    path(
        connection + "credentials/<int:credential_id>/revoke/",
        views.CredentialRevokeView.as_view(),
        name="credential-revoke",
    ),
    path(connection + "users/", views.DirectoryUsersView.as_view(), name="users"),
    path(connection + "groups/", views.DirectoryGroupsView.as_view(), name="groups"),
    path(connection + "events/", views.EventsView.as_view(), name="events"),
    # The brake: held removals and their dry run, deleted users, the deletion dry run.
    path(connection + "held/", HeldView.as_view(), name="held"),
    path(connection + "held/preview/", HeldPreviewView.as_view(), name="held-preview"),
    path(connection + "held/approve/", HeldApproveView.as_view(), name="held-approve"),
    path(connection + "held/reject/", HeldRejectView.as_view(), name="held-reject"),
    path(connection + "deleted/", DeletedUsersView.as_view(), name="deleted"),
    path(connection + "deleted/<uuid:user_id>/restore/", RestoreView.as_view(), name="restore"),
    path(connection + "deletion-preview/", DeletionPreviewView.as_view(), name="deletion-preview"),
    path(connection + "drift/", drift.DriftView.as_view(), name="drift"),
    path(connection + "drift.csv", drift.DriftCsvView.as_view(), name="drift-csv"),
    path(connection + "drift/<slug:action>/", drift.DriftFixView.as_view(), name="drift-fix"),
    path(account + "domains/", views.DomainsView.as_view(), name="domains"),
    path(domain, views.DomainDetailView.as_view(), name="domain"),
    path(domain + "verify/", views.DomainVerifyView.as_view(), name="domain-verify"),
    path(account + "events/", views.AccountEventsView.as_view(), name="account-events"),
    path("webhook-endpoints/", webhooks.WebhookEndpointsView.as_view(), name="webhook-endpoints"),
    path(endpoint, webhooks.WebhookEndpointDetailView.as_view(), name="webhook-endpoint"),
    path(
        endpoint + "rotate-secret/",
        webhooks.RotateSecretView.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path(endpoint + "test/", webhooks.SendTestView.as_view(), name="webhook-endpoint-test"),
    path(endpoint + "replay/", webhooks.ReplayView.as_view(), name="webhook-endpoint-replay"),
    path(
        endpoint + "deliveries/",
        webhooks.DeliveriesView.as_view(),
        name="webhook-endpoint-deliveries",
    ),
    path("schema/", docs.SchemaView.as_view(), name="schema"),
    path("docs/", docs.docs_page, name="docs"),
    re_path(r"^.*$", docs.not_found, name="not-found"),
]
