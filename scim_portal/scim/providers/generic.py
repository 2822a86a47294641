"""Any other SCIM 2.0 client: RFC 7643 and RFC 7644, read tolerantly, and nothing more."""

from __future__ import annotations

from ...providers import get_provider
from .base import ProviderProfile


class Generic(ProviderProfile):
    provider = get_provider("generic")
