"""Errors of the provisioning services; each face (SCIM, portal, API) renders them."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext_noop

from .._sentences import Sentence

TAKEN_VALUE = Sentence(gettext_noop("%(attribute)s %(value)s is already taken in this connection."))
HOST_FAILED = Sentence(
    gettext_noop(
        "The application could not apply this change (%(hook)s); nothing was saved. It has "
        "been logged; please retry."
    )
)


class ProvisioningError(Exception):
    """Base of the errors a provisioning service raises for bad input or state."""


class ResourceNotFound(ProvisioningError):
    """The user or group does not exist in this connection."""


class UniquenessConflict(ProvisioningError):
    """Another resource of the connection already has this unique value."""

    def __init__(self, attribute: str, value: str) -> None:
        self.attribute, self.value = attribute, value
        super().__init__(TAKEN_VALUE.english(attribute=attribute, value=repr(value)))


class VersionMismatch(ProvisioningError):
    """The resource's version is not the one the caller expected (If-Match)."""


class InvalidMembers(ProvisioningError):
    """Group members that are not users of the same connection."""

    def __init__(self, values: Iterable[str]) -> None:
        self.values = sorted(values)
        shown = ", ".join(self.values[:5]) + (" …" if len(self.values) > 5 else "")
        super().__init__(f"No user of this connection has id {shown}; nothing was changed.")


class InvalidDocument(ProvisioningError):
    """A value does not fit the directory (for example, longer than its column)."""


class EmailOutsideDomains(ProvisioningError):
    """The connection rejects emails outside its account's verified domains."""

    def __init__(self, domain: str) -> None:
        self.domain = domain
        super().__init__(
            f"The email's domain {domain} is not a verified domain of this account, and this "
            "connection rejects such users. An administrator can verify the domain (Provisioning "
            "→ Domains) or change the connection's policy for emails outside verified domains."
        )


class HostProvisioningFailed(ProvisioningError):
    """The host adapter raised; the change was rolled back."""

    def __init__(self, hook: str) -> None:
        self.hook = hook
        super().__init__(HOST_FAILED.english(hook=hook))


class DomainError(ProvisioningError, ValueError):
    """A domain cannot be added or verified for this account; the message says why,
    in words for the tenant admin (not a domain name, already added, or already
    verified by another account)."""
