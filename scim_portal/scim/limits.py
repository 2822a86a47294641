"""Per-connection rate limiting: a DRF throttle counting in Django's cache framework."""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import caches
from rest_framework.throttling import BaseThrottle

from .._cache import guarded
from ..conf import app_settings
from .authentication import ScimClient

WINDOW_SECONDS = 60


def seconds_until_allowed(connection_id: Any) -> int | None:
    """Count one request of the connection in the current minute; past the limit, the
    whole seconds until the next minute (an IdP's ``Retry-After``), else None."""
    return count_request(str(connection_id), app_settings.RATE_LIMIT_PER_MINUTE)


def count_request(subject: str, limit: int | None) -> int | None:
    """Count one request of ``subject`` in the current minute; past ``limit``, the whole
    seconds until the next minute, else None.

    A fixed window per subject: ``cache.add`` then ``cache.incr`` are atomic in
    Redis and Memcached, so every process and machine shares one count.
    """
    if not limit:
        return None
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"scim_portal:rate:{subject}:{window}"
    cache = caches["default"]

    def count_one() -> int:
        cache.add(key, 0, WINDOW_SECONDS * 2)
        try:
            return int(cache.incr(key))
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, WINDOW_SECONDS * 2)
            return 1

    # An unreachable cache must not stop provisioning: unthrottled until it is back.
    count = guarded(count_one, 0, "the SCIM rate limit")
    if count <= limit:
        return None
    return int((window + 1) * WINDOW_SECONDS - now) + 1


class ConnectionRateThrottle(BaseThrottle):
    """``SCIM_PORTAL["RATE_LIMIT_PER_MINUTE"]`` requests a minute per connection."""

    def allow_request(self, request: Any, view: Any) -> bool:
        client = request.user
        self.seconds = (
            seconds_until_allowed(client.connection.pk) if isinstance(client, ScimClient) else None
        )
        return self.seconds is None

    def wait(self) -> float | None:
        return self.seconds
