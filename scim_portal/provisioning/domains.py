"""Verified email domains of an account: add, verify by DNS TXT record, remove."""

from __future__ import annotations

from ..conf import app_settings


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
