"""URLs of the app. Include once in the host's root URLconf::

    path("", include("scim_portal.urls")),

- SCIM base URL of a connection: ``scim/v2/<connection-id>/``;
- the Provisioning tab of an account: ``provisioning/<account>/`` (the account's
  ``ACCOUNT_LOOKUP_FIELD`` value);
- the OAuth token endpoint and authorisation page: ``scim/oauth/token`` and
  ``scim/oauth/authorize``;
- the management API: ``api/v1/`` (reference at ``api/v1/docs/``);
- the keys that verify Security Event Tokens, ``scim/events/jwks.json``, and the RFC 8936
  poll endpoint of a polled SET endpoint, ``scim/events/<endpoint-id>/poll``.
"""

from __future__ import annotations

from django.urls import include, path, re_path

from .delivery.poll import JwksView, PollView
from .scim.views import NoSuchConnectionView

app_name = "scim_portal"

urlpatterns = [
    path("scim/v2/<uuid:connection_id>/", include("scim_portal.scim.urls")),
    path("scim/oauth/", include("scim_portal.oauth.urls")),
    path("provisioning/<str:account>/", include("scim_portal.portal.urls")),
    path("api/v1/", include("scim_portal.api.urls")),
    path("scim/events/jwks.json", JwksView.as_view(), name="set-jwks"),
    path("scim/events/<uuid:endpoint_id>/poll", PollView.as_view(), name="set-poll"),
    # Anything else under the SCIM prefix still answers as SCIM, never as an HTML 404.
    re_path(r"^scim/v2(?:/.*)?$", NoSuchConnectionView.as_view(), name="scim-no-connection"),
]
