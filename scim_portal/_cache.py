"""Django's cache, with a breaker: after one failure the cache is left alone for a while.

A cache server that refuses connections costs nothing, but one that hangs costs its
socket timeout on every call; skipping it for :data:`PAUSE_SECONDS` after a failure
keeps every request fast while it is away. What the cache holds here (rate-limit counts,
the sizes of directories) is an optimisation or a courtesy: without it, requests are
still served.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

logger = logging.getLogger("scim_portal.scim")

T = TypeVar("T")
#: Seconds the cache is left alone after it failed.
PAUSE_SECONDS = 30.0
_down_until = float("-inf")


def guarded(operation: Callable[[], T], default: T, what: str) -> T:
    """``operation()``, or ``default`` when the cache fails now or failed lately."""
    global _down_until
    now = time.monotonic()
    if now < _down_until:
        return default
    try:
        return operation()
    except Exception as exc:
        _down_until = now + PAUSE_SECONDS
        logger.warning(
            "The cache is unreachable (%s): %s off for %d s", exc, what, int(PAUSE_SECONDS)
        )
        return default


def reset() -> None:
    """Forget a failure (tests; a host that knows the cache is back)."""
    global _down_until
    _down_until = float("-inf")
