"""URLs of the app. Include once in the host's root URLconf::

    path("", include("scim_portal.urls")),

- SCIM base URL of a connection: ``scim/v2/<connection-id>/``;
- the Provisioning tab of an account: ``provisioning/<account>/`` (the account's
  ``ACCOUNT_LOOKUP_FIELD`` value);
- the OAuth token endpoint and authorisation page: ``scim/oauth/token`` and
  ``scim/oauth/authorize``;
- the management API: ``api/v1/`` (reference at ``api/v1/docs/``).
"""

from __future__ import annotations

from django.urls import include, path, re_path

from .scim.views import NoSuchConnectionView

app_name = "scim_portal"

urlpatterns = [
    path("scim/v2/<uuid:connection_id>/", include("scim_portal.scim.urls")),
    path("scim/oauth/", include("scim_portal.oauth.urls")),
    path("provisioning/<str:account>/", include("scim_portal.portal.urls")),
    path("api/v1/", include("scim_portal.api.urls")),
    # Anything else under the SCIM prefix still answers as SCIM, never as an HTML 404.
    re_path(r"^scim/v2(?:/.*)?$", NoSuchConnectionView.as_view(), name="scim-no-connection"),
]
