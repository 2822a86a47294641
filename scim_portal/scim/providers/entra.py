"""Microsoft Entra ID's provisioning service.

Sources: "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft
Entra ID" and "Known issues and resolutions with SCIM 2.0 protocol compliance of the
Microsoft Entra user provisioning service"
(https://learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups,
https://learn.microsoft.com/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility),
and INTEROP.md.

Its tenant URL carries ``?aadOptscim062020`` (the catalogue's URL suffix), which
makes it send RFC-conformant PATCH requests; without the flag it sends the legacy
forms below, and a customer may not have set it, so both are read. The RFC rules
read its capitalised ``op`` values (``Replace``); scim2-models under the service's
policy reads ``"False"`` for a boolean, ignores its extra group schema URN
(``…/ADSCIM/2.0/Group``), applies a ``remove`` with a value as a selection and
creates the entry a valuePath update names. Its own quirks are the hooks below.
"""

from __future__ import annotations

import re
from typing import Any

from ...providers import get_provider
from .base import ProviderProfile

GROUP_CORE = "urn:ietf:params:scim:schemas:core:2.0:group:"

_OPERATORS = r"eq|ne|co|sw|ew|gt|ge|lt|le"
# A comparison whose value is a bare word, e.g. the documented `externalId eq jyoung`.
_BARE_VALUE = re.compile(
    rf"(?P<head>\b(?:{_OPERATORS})\s+)(?P<value>[^\s\"()\[\]]+)(?=\s|\)|\]|$)", re.IGNORECASE
)
_LITERALS = {"true", "false", "null"}
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


class Entra(ProviderProfile):
    provider = get_provider("entra")
    #: A user PATCH answers 200 with the resource (the validator checks it); a group
    #: PATCH "results in HTTP 204 No Content" — a body with every member is not
    #: recommended.
    patch_statuses = {"User": frozenset({200}), "Group": frozenset({204})}

    def normalize_filter(self, text: str) -> str:
        """Quote bare-word comparison values (``externalId eq jyoung``)."""

        def quote(match: re.Match[str]) -> str:
            value = match["value"]
            if value.lower() in _LITERALS or _NUMBER.fullmatch(value):
                return match[0]
            return f'{match["head"]}"{value}"'

        if '"' in text:
            # Only rewrite outside quoted strings.
            parts = re.split(r'("(?:[^"\\]|\\.)*")', text)
            return "".join(p if i % 2 else _BARE_VALUE.sub(quote, p) for i, p in enumerate(parts))
        return _BARE_VALUE.sub(quote, text)

    def normalize_operation(
        self, operation: dict[str, Any], resource_type: str
    ) -> list[dict[str, Any]]:
        """``add``/``replace`` of an empty value at a path is a ``remove`` (a manager is
        removed by ``replace`` with ``""``); an ``add`` of an empty list adds nothing
        (RFC 7644 section 3.5.2.1), never a removal of every value.

        (Without the flag a member leaves a group by ``remove`` of ``members`` with a
        value listing them all: the engine reads any ``remove`` with a value as
        selecting what to remove, for every client — ``schema.POLICY``.)
        """
        op, path = operation["op"], operation.get("path")
        if not path or op not in {"add", "replace"} or not _is_empty(operation["value"]):
            return [operation]
        if op == "add" and operation["value"] == []:
            return []
        return [{"op": "remove", "path": path}]


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []
