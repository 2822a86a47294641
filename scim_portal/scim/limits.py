"""Per-connection rate limiting through Django's cache framework."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache import caches
from rest_framework.exceptions import Throttled

from ..conf import app_settings

WINDOW_SECONDS = 60


logger = logging.getLogger("scim_portal.scim")
#: When the last "rate limit off" warning was logged (once a minute per process at most).
_warned_at = 0.0


def _warn_open(exc: Exception) -> None:
    global _warned_at
    now = time.monotonic()
    if now - _warned_at >= WINDOW_SECONDS:
        _warned_at = now
        logger.warning("The cache is unreachable (%s); SCIM requests are not rate limited", exc)


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
    try:
        cache.add(key, 0, WINDOW_SECONDS * 2)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, WINDOW_SECONDS * 2)
            count = 1
    except Exception as exc:  # an unreachable cache must not stop provisioning
        _warn_open(exc)
        return
    if count > limit:
        retry_after = int((window + 1) * WINDOW_SECONDS - now) + 1
        raise Throttled(
            wait=retry_after,
            detail=f"More than {limit} requests a minute for this connection; retry later.",
        )
