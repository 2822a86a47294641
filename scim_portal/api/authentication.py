"""How callers of the management API authenticate: environment API keys (the vendor's
backend) and Django sessions (people signed in to the site, with CSRF).

These two are the only classes the API accepts, whatever the host's
``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]`` says: every view declares them
(:class:`scim_portal.api.views.ApiView`), and ``scim_portal.W010`` reports a view that
would accept another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    get_authorization_header,
)
from rest_framework.exceptions import AuthenticationFailed

from ..conf import app_settings
from ..models import EnvironmentKey
from ..models.keys import KEY_PREFIX


@dataclass
class EnvironmentClient:
    """``request.user`` of a call made with an environment key."""

    key: EnvironmentKey

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None

    def get_username(self) -> str:
        return f"environment key {self.key.name}"


class EnvironmentKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer scimpenv_…``: an unrevoked environment key."""

    def authenticate(self, request: Any) -> tuple[EnvironmentClient, EnvironmentKey] | None:
        try:
            parts = get_authorization_header(request).split()
        except UnicodeError:
            raise AuthenticationFailed("The Authorization header is not valid.") from None
        if len(parts) != 2 or parts[0].lower() != b"bearer":
            return None
        raw = parts[1].decode("ascii", "replace")
        if not raw.startswith(KEY_PREFIX):
            return None  # someone else's bearer scheme
        key = EnvironmentKey.objects.by_value(raw)
        if key is None:
            raise AuthenticationFailed("The environment key is not valid.")
        now = timezone.now()
        stale = now - timedelta(seconds=app_settings.TOKEN_LAST_USED_RESOLUTION)
        if key.last_used_at is None or key.last_used_at < stale:
            EnvironmentKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return EnvironmentClient(key), key

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="scim-portal-api"'


class EnvironmentKeyScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes environment keys."""

    target_class = "scim_portal.api.authentication.EnvironmentKeyAuthentication"
    name = "environmentKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An environment API key, `Authorization: Bearer scimpenv_…`, "
            "issued and revoked in Django admin (Environment API keys). It may call every "
            "operation, for every account.",
        }


#: The authentication classes the management API accepts, in the order it tries them
#: (the first one's ``WWW-Authenticate`` answers an anonymous call).
API_AUTHENTICATION_CLASSES: tuple[type[BaseAuthentication], ...] = (
    EnvironmentKeyAuthentication,
    SessionAuthentication,
)
