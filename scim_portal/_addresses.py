"""The address a request came from, as the host's proxies tell it.

``TRUSTED_PROXY_COUNT`` (``SCIM_PORTAL``) says how many proxies of the host's own stand
in front of Django, as Django REST framework's ``NUM_PROXIES`` does: 0 (the default)
takes ``REMOTE_ADDR`` and ignores ``X-Forwarded-For``, which any client can write; N
takes the N-th address from the right of ``X-Forwarded-For``, the one the outermost
trusted proxy saw.
"""

from __future__ import annotations

import hashlib
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


#: IPv6 ranges that carry an IPv4 client in their last 32 bits (NAT64 at its well-known
#: prefix, and IPv4-compatible addresses): counted as that IPv4 client.
_EMBEDDED_IPV4 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::/96"))
#: IPv6 ranges whose /64 is no one host's: local-use NAT64 and Teredo (many clients behind
#: one prefix) are counted by the whole address.
_SHARED = (ipaddress.ip_network("64:ff9b:1::/48"), ipaddress.ip_network("2001::/32"))


def rate_limit_key(written: str) -> str:
    """What one client is counted as, from an address as written: an IPv4 address; an
    IPv6 address's /64 (a single host commonly holds the whole /64 and may rotate through
    it), except where IPv6 carries IPv4 clients; or a digest of the text when it is no
    address (never one shared bucket for every client whose proxy writes something
    unexpected)."""
    address = parse_address(written)
    if address is None:
        return "text:" + hashlib.sha256(written.encode()).hexdigest()[:32]
    parsed = ipaddress.ip_address(address)
    if not isinstance(parsed, ipaddress.IPv6Address):
        return address
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    if any(parsed in network for network in _EMBEDDED_IPV4) and int(parsed) > 1:
        return str(ipaddress.IPv4Address(int(parsed) & 0xFFFFFFFF))
    if (
        parsed.is_loopback
        or parsed.is_unspecified
        or parsed.is_link_local
        or any(parsed in network for network in _SHARED)
    ):
        return address
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
