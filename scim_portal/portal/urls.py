"""URLs of the Provisioning tab, under ``provisioning/<account>/``."""

from __future__ import annotations

from django.urls import path

from . import credentials, domains, drift, notifications, views
from .safety import DeletedUsersView, HeldDecideView, HeldView, RestoreView

app_name = "portal"

connection = "<uuid:connection_id>/"
domain = "domains/<int:domain_id>/"

urlpatterns = [
    path("", views.ConnectionListView.as_view(), name="connection-list"),
    path("new/", credentials.ConnectionCreateView.as_view(), name="connection-create"),
    path("domains/", domains.DomainListView.as_view(), name="domains"),
    path(f"{domain}verify/", domains.DomainVerifyView.as_view(), name="domain-verify"),
    path(f"{domain}remove/", domains.DomainRemoveView.as_view(), name="domain-remove"),
    path(
        "notifications/",
        notifications.NotificationSettingsView.as_view(),
        name="notifications",
    ),
    path(connection, views.ConnectionDetailView.as_view(), name="connection-detail"),
    path(f"{connection}users/", views.UserListView.as_view(), name="users"),
    path(f"{connection}users/<uuid:user_id>/", views.UserDetailView.as_view(), name="user"),
    # The brake: removals held for review, and deleted users kept restorable.
    path(f"{connection}held/", HeldView.as_view(), name="held"),
    path(f"{connection}held/confirm/", HeldDecideView.as_view(), name="held-confirm"),
    path(f"{connection}deleted/", DeletedUsersView.as_view(), name="deleted"),
    path(f"{connection}deleted/<uuid:user_id>/restore/", RestoreView.as_view(), name="restore"),
    path(f"{connection}groups/", views.GroupListView.as_view(), name="groups"),
    path(f"{connection}groups/<uuid:group_id>/", views.GroupDetailView.as_view(), name="group"),
    path(f"{connection}logs/", views.RequestLogView.as_view(), name="logs"),
    path(f"{connection}logs/<int:log_id>/", views.RequestLogDetailView.as_view(), name="log"),
    path(f"{connection}activity/", views.ActivityView.as_view(), name="activity"),
    # The Credentials tab (named "tokens" since bearer tokens were the only kind).
    path(f"{connection}tokens/", credentials.CredentialListView.as_view(), name="tokens"),
    path(
        f"{connection}tokens/rotate/",
        credentials.CredentialIssueView.as_view(),
        name="token-rotate",
    ),
    path(
        f"{connection}tokens/<int:token_id>/revoke/",
        credentials.CredentialRevokeView.as_view(),
        name="token-revoke",
    ),
    path(f"{connection}settings/", views.SettingsView.as_view(), name="settings"),
    path(f"{connection}delete/", views.ConnectionDeleteView.as_view(), name="connection-delete"),
    path(f"{connection}drift/", drift.DriftView.as_view(), name="drift"),
    path(f"{connection}drift.csv", drift.DriftCsvView.as_view(), name="drift-csv"),
    path(f"{connection}drift/<slug:action>/", drift.DriftActionView.as_view(), name="drift-action"),
]
