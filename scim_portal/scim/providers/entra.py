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

import json
import re
from typing import Any

from ...providers import get_provider
from ..members import listed_members
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
        """- ``add``/``replace`` of an empty value at a path is a ``remove`` (a manager
          is removed by ``replace`` with ``""``);
        - without the flag a member leaves a group by ``remove`` of ``members`` with a
          value listing them (all of them, not only the first): one
          ``members[value eq "…"]`` removal per member listed.
        """
        op, path = operation["op"], operation.get("path")
        if not path:
            return [operation]
        if op in {"add", "replace"} and _is_empty(operation["value"]):
            return [{"op": "remove", "path": path}]
        if resource_type == "Group" and op == "remove" and operation.get("value"):
            bare = path.strip()
            if bare.lower().startswith(GROUP_CORE):
                bare = bare[len(GROUP_CORE) :]
            if bare.lower() == "members":
                return [
                    {
                        "op": "remove",
                        "path": f"members[value eq {json.dumps(member, ensure_ascii=False)}]",
                    }
                    for member, _display in listed_members(operation["value"])
                ]
        return [operation]


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []
