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
    return parse_address(forwarded_hop(request))


def forwarded_hop(request: Any) -> str:
    """The address as written: ``REMOTE_ADDR``, or the chosen hop of ``X-Forwarded-For``."""
    meta = request.META
    proxies = app_settings.TRUSTED_PROXY_COUNT or 0
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    if proxies > 0 and forwarded:
        hops = forwarded.split(",")
        # Fewer hops than proxies: the leftmost is the best there is (as DRF does).
        return str(hops[-min(proxies, len(hops))].strip())
    return str(meta.get("REMOTE_ADDR", ""))


def parse_address(written: str) -> str | None:
    """``written`` as a normalised IP address, or None. Proxies write a port with some
    addresses (``203.0.113.5:54321``, ``[2001:db8::1]:443``); an IPv6 zone (``%eth0``)
    means nothing beyond the host and PostgreSQL refuses it."""
    text = written.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    text = text.partition("%")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
