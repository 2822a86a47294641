"""Per-connection rate limiting through Django's cache framework."""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import caches
from rest_framework.exceptions import Throttled

from .._cache import guarded
from ..conf import app_settings

WINDOW_SECONDS = 60


def check_rate(connection_id: Any) -> None:
    """Count one request of the connection in the current minute; 429 past the limit.

    A fixed window per connection: ``cache.add`` then ``cache.incr`` are atomic in
    Redis and Memcached, so every process and machine shares one count.
    """
    limit = app_settings.RATE_LIMIT_PER_MINUTE
    if not limit:
        return
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"scim_portal:rate:{connection_id}:{window}"
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
    if count > limit:
        retry_after = int((window + 1) * WINDOW_SECONDS - now) + 1
        raise Throttled(
            wait=retry_after,
            detail=f"More than {limit} requests a minute for this connection; retry later.",
        )
