"""Verified email domains of an account: add, verify by DNS TXT record, remove."""

from __future__ import annotations

import re
from typing import Any

from ..conf import app_settings
from ..models import AccountDomain

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def dns_txt_lookup(name: str) -> list[str]:
    """The TXT strings published at ``name`` ([] if there are none).

    Asks ``SCIM_PORTAL["DNS_NAMESERVERS"]`` (or the system's resolver) with
    dnspython; raises :class:`dns.exception.DNSException` when DNS cannot answer.
    """
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=not app_settings.DNS_NAMESERVERS)
    if app_settings.DNS_NAMESERVERS:
        servers = []
        for server in map(str, app_settings.DNS_NAMESERVERS):
            host, _, port = server.rpartition(":") if server.count(":") == 1 else ("", "", "")
            servers.append(host or server)
            if port:
                resolver.port = int(port)
        resolver.nameservers = servers
    resolver.lifetime = float(app_settings.DNS_TIMEOUT)
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


def normalize_domain(value: str) -> str:
    """``value`` as stored: stripped, lower-case, IDNA-encoded, no trailing dot.

    Raises ``ValueError`` when it is not a domain name with at least two labels.
    """
    text = str(value).strip().rstrip(".").lower()
    try:
        encoded = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{value!r} is not a domain name.") from None
    labels = encoded.split(".")
    if len(encoded) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(x) for x in labels):
        raise ValueError(f"{value!r} is not a domain name.")
    return encoded


def domain_of(email: str) -> str | None:
    """The normalised domain of ``email``, or None when it has none."""
    _local, at, domain = str(email or "").rpartition("@")
    if not at or not domain:
        return None
    try:
        return normalize_domain(domain)
    except ValueError:
        return None


def verified_domains(account: Any) -> frozenset[str]:
    """The domains verified for ``account`` (one query)."""
    return frozenset(
        AccountDomain.objects.filter(account=account, verified_at__isnull=False).values_list(
            "domain", flat=True
        )
    )


def is_verified_for(account: Any, email: str) -> bool:
    """Whether ``email``'s domain is verified for ``account``."""
    domain = domain_of(email)
    return domain is not None and domain in verified_domains(account)
