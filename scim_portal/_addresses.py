"""The address a request came from, as the host's proxies tell it.

``TRUSTED_PROXY_COUNT`` (``SCIM_PORTAL``) says how many proxies of the host's own stand
in front of Django, as Django REST framework's ``NUM_PROXIES`` does: 0 (the default)
takes ``REMOTE_ADDR`` and ignores ``X-Forwarded-For``, which any client can write; N
takes the N-th address from the right of ``X-Forwarded-For``, the one the outermost
trusted proxy saw.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from .conf import app_settings


def client_address(request: Any) -> str | None:
    """The client's IP address (normalised), or None when it is not an IP address."""
    meta = request.META
    proxies = app_settings.TRUSTED_PROXY_COUNT or 0
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    if proxies > 0 and forwarded:
        hops = forwarded.split(",")
        # Fewer hops than proxies: the leftmost is the best there is (as DRF does).
        candidate = hops[-min(proxies, len(hops))].strip()
    else:
        candidate = meta.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
