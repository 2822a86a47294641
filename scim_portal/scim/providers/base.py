"""The base of every identity provider's module, and the rules every client gets.

What an IdP sends reaches the engine (resources, filters, operations) only through
a :class:`Dialect`, which puts it in the form scim2-models accepts under
:data:`~scim_portal.scim.schema.POLICY`:

1. first the RFC's rules, read tolerantly, for every client (here): a JSON object
   where one is due; attribute names in any case (RFC 7643 section 2.1), and PATCH
   ``op`` values too (INTEROP.md, checklist item 13); read-only ``id`` and ``meta``
   ignored in resource bodies (RFC 7644 section 3.5.1), with ``schemas`` in
   path-less PATCH values;
2. then the quirks each provider documents, one :class:`ProviderProfile` per
   provider, one module each: the request's own provider first (the one its
   ``User-Agent`` names, then its connection's), then every other registered one.

Every client gets every provider's normalisers. A customer may or may not have set
a compatibility flag, and a connection made "for Okta" may be called by any client
(INTEROP.md: "accept every form below"), so nothing accepted depends on who calls.
A hook therefore leaves alone what it does not recognise as its provider's, and
rewrites what it does recognise into the RFC form, which no other hook rewrites:
for the hooks of today the order changes nothing. It exists so that, should two
providers ever send one shape meaning different things, the caller's reading wins.

To add a quirk, override a ``normalize_*`` hook in that provider's module (and add
its recorded payload under ``tests/fixtures/<provider>/``); to state what a
provider expects back where it is narrower than the RFC, set the class attributes
below (its conformance tests check the engine's answers against them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ...conf import app_settings
from ...providers import Provider
from ..exceptions import InvalidSyntax, InvalidValue, PayloadTooLarge

#: Attributes a client may send but never sets (RFC 7643 section 3.1).
READ_ONLY = frozenset({"id", "meta"})
#: Keys of a path-less ``add``/``replace`` value that set nothing.
READ_ONLY_IN_VALUES = READ_ONLY | {"schemas"}
#: The ``Retry-After`` forms of RFC 9110 section 10.2.3.
SECONDS, HTTP_DATE = "seconds", "http-date"


@dataclass(frozen=True)
class ResourceInfo:
    """What a resource-body hook may need to know of the resource's type."""

    #: "User" or "Group".
    name: str
    #: Lower-case names of its multi-valued attributes.
    multi_valued: frozenset[str] = frozenset()
    #: Lower-case names of read-only attributes beyond ``id`` and ``meta``
    #: (a user's ``groups``), ignored on input.
    read_only: frozenset[str] = frozenset()


class ProviderProfile:
    """One identity provider's SCIM client: who it is, what it sends that the RFC
    does not quite say, and what it expects back where that differs.

    The hooks receive input the RFC rules above have already read (for PATCH: each
    operation a dict with lower-case keys, ``op`` lower-cased, ``path`` a string or
    absent) and return it unchanged unless they recognise their provider's shape.
    """

    #: Who it is: its catalogue entry (key, name, URL suffix, User-Agent markers,
    #: setup guide), kept below every layer so that models and the portal read it
    #: without the protocol.
    provider: ClassVar[Provider]

    #: What it accepts as the answer to a successful PATCH, per resource type
    #: (RFC 7644 section 3.5.2: 200 with the resource, or 204 without a body).
    patch_statuses: ClassVar[Mapping[str, frozenset[int]]] = {
        "User": frozenset({200, 204}),
        "Group": frozenset({200, 204}),
    }
    #: The forms of ``Retry-After`` it honours on a 429.
    retry_after_forms: ClassVar[frozenset[str]] = frozenset({SECONDS, HTTP_DATE})

    def normalize_filter(self, text: str) -> str:
        """A ``filter`` as the RFC's grammar reads it."""
        return text

    def normalize_resource(self, body: dict[str, Any], resource: ResourceInfo) -> dict[str, Any]:
        """A resource body (POST, PUT, Bulk) as scim2-models validates it."""
        return body

    def normalize_operation(
        self, operation: dict[str, Any], resource_type: str
    ) -> list[dict[str, Any]]:
        """One PATCH operation as the operations scim2-models (or, for a group's
        members, the engine) applies; several when one stands for many."""
        return [operation]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} profile>"


class Dialect:
    """The normalisers one request's input goes through: the RFC rules above,
    then each profile's hooks in order."""

    def __init__(self, profiles: Sequence[ProviderProfile]) -> None:
        self.profiles = tuple(profiles)

    def filter(self, text: str) -> str:
        for profile in self.profiles:
            text = profile.normalize_filter(text)
        return text

    def resource(self, body: Any, resource: ResourceInfo) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise InvalidSyntax("The request body must be a JSON object.")
        ignored = READ_ONLY | resource.read_only
        document = {key: value for key, value in body.items() if key.lower() not in ignored}
        for profile in self.profiles:
            document = profile.normalize_resource(document, resource)
        return document

    def patch_operations(self, body: Any, resource_type: str) -> list[dict[str, Any]]:
        """The ``Operations`` of a PatchOp body, in a form the engine applies."""
        operations = [_operation(item) for item in _operations_of(body)]
        for profile in self.profiles:
            operations = [
                normalized
                for operation in operations
                for normalized in profile.normalize_operation(operation, resource_type)
            ]
        return operations


def _operations_of(body: Any) -> list[Any]:
    if not isinstance(body, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    operations = next((v for k, v in body.items() if k.lower() == "operations"), None)
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntax("A PATCH request needs a non-empty 'Operations' list.")
    if len(operations) > app_settings.MAX_PATCH_OPERATIONS:
        raise PayloadTooLarge(
            f"A PATCH request may hold at most {app_settings.MAX_PATCH_OPERATIONS} operations."
        )
    return operations


def _operation(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InvalidSyntax("Each PATCH operation must be a JSON object.")
    operation = {key.lower(): value for key, value in item.items()}
    if not isinstance(operation.get("op"), str):
        raise InvalidSyntax("Each PATCH operation needs an 'op'.")
    operation["op"] = operation["op"].lower()
    if operation.get("path") is not None and not isinstance(operation["path"], str):
        raise InvalidSyntax("A PATCH operation's 'path' must be a string.")
    if operation["op"] in {"add", "replace"}:
        if "value" not in operation:
            raise InvalidValue(f"A PATCH '{operation['op']}' operation needs a 'value'.")
        value = operation["value"]
        if not operation.get("path") and isinstance(value, dict):
            operation["value"] = {
                key: item for key, item in value.items() if key.lower() not in READ_ONLY_IN_VALUES
            }
    return operation
