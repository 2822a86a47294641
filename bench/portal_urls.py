from django.urls import include, path
from rest_framework.response import Response

from scim_portal.scim.views import ScimView


class FloorView(ScimView):
    """The floor: a trivial DRF view behind the same bearer-token authentication."""

    def get(self, request, connection_id):
        return Response({"ok": True})

    def _log(self, *args, **kwargs):  # the floor does no SCIM work, not even logging
        return None


urlpatterns = [
    path("floor/<uuid:connection_id>/", FloorView.as_view()),
    path("", include("scim_portal.urls")),
]
