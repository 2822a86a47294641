"""What identity providers send that the RFC does not quite say, made standard.

Each normaliser takes input as received and returns it in the form the generic
engine (scim2-models under :data:`~scim_portal.scim.schema.POLICY`) accepts.
They apply to every client: a customer may or may not have set a compatibility
flag, so every form is accepted whoever sends it (docs: INTEROP.md).
"""

from __future__ import annotations

import re
from typing import Any

from ..conf import app_settings
from .exceptions import InvalidSyntax, InvalidValue, PayloadTooLarge

#: Attributes a client may send but never sets (RFC 7643 section 3.1 and 4.1.2).
READ_ONLY_TOP_LEVEL = {"id", "meta"}
#: Sent by Okta on user create; not stored, never echoed.
NEVER_STORED = {"password"}

_OPERATORS = r"eq|ne|co|sw|ew|gt|ge|lt|le"
# A comparison whose value is a bare word, e.g. Entra's documented `externalId eq jyoung`.
_BARE_VALUE = re.compile(
    rf"(?P<head>\b(?:{_OPERATORS})\s+)(?P<value>[^\s\"()\[\]]+)(?=\s|\)|\]|$)", re.IGNORECASE
)
_LITERALS = {"true", "false", "null"}
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def normalize_filter(text: str) -> str:
    """Quote bare-word comparison values (Entra ID's docs send ``externalId eq jyoung``)."""

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


def normalize_resource(body: Any, *, multi_valued: set[str], drop: set[str]) -> dict[str, Any]:
    """A resource body (POST, PUT, Bulk) ready for validation.

    - read-only and never-stored attributes are dropped whatever their case
      (Okta's PUT carries ``id``, ``meta`` and ``groups``; its POST ``password``);
    - a multi-valued attribute sent as one object becomes a list of one
      (OneLogin sends ``emails`` as a dict).
    """
    if not isinstance(body, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    dropped = READ_ONLY_TOP_LEVEL | NEVER_STORED | drop
    result: dict[str, Any] = {}
    for key, value in body.items():
        lowered = key.lower()
        if lowered in dropped:
            continue
        if lowered in multi_valued and isinstance(value, dict):
            value = [value]
        result[key] = value
    return result


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


def normalize_patch_operations(body: Any) -> list[dict[str, Any]]:
    """The ``Operations`` of a PatchOp body, in a form ``PatchOp`` applies.

    - ``op`` lower-cased (Entra without ``aadOptscim062020`` sends ``Replace``);
    - read-only keys (``id``, ``meta``, ``schemas``) dropped from path-less values
      (Okta's group rename sends ``{"id": ..., "displayName": ...}``);
    - ``add``/``replace`` of an empty value at a path becomes ``remove`` (Entra
      removes a manager with ``replace`` and an empty value).
    """
    if not isinstance(body, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    operations = next((v for k, v in body.items() if k.lower() == "operations"), None)
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntax("A PATCH request needs a non-empty 'Operations' list.")
    if len(operations) > app_settings.MAX_PATCH_OPERATIONS:
        raise PayloadTooLarge(
            f"A PATCH request may hold at most {app_settings.MAX_PATCH_OPERATIONS} operations."
        )
    result = []
    for operation in operations:
        if not isinstance(operation, dict):
            raise InvalidSyntax("Each PATCH operation must be a JSON object.")
        op = {key.lower(): value for key, value in operation.items()}
        if not isinstance(op.get("op"), str):
            raise InvalidSyntax("Each PATCH operation needs an 'op'.")
        op["op"] = op["op"].lower()
        if op.get("path") is not None and not isinstance(op["path"], str):
            raise InvalidSyntax("A PATCH operation's 'path' must be a string.")
        if op["op"] in {"add", "replace"} and "value" not in op:
            raise InvalidValue(f"A PATCH '{op['op']}' operation needs a 'value'.")
        if op["op"] in {"add", "replace"}:
            if not op.get("path") and isinstance(op.get("value"), dict):
                op["value"] = {
                    key: value
                    for key, value in op["value"].items()
                    if key.lower() not in READ_ONLY_TOP_LEVEL | {"schemas"}
                }
            elif op.get("path") and _is_empty(op.get("value")) and "value" in op:
                op = {"op": "remove", "path": op["path"]}
        result.append(op)
    return result
