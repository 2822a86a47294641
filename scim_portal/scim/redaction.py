"""Where secrets sit in SCIM requests, taken from the schema, and their redaction.

A secret is an attribute the schema marks ``mutability: writeOnly`` or ``returned:
never`` (``password`` in the core User schema, and any such attribute or
sub-attribute of a declared extension). An IdP sends it in a resource body (POST,
PUT), in a PATCH operation (by path or in a value object) and in every Bulk
operation. The request log stores these bodies with each secret replaced by
:data:`REDACTED`; stored documents leave them out altogether
(:func:`without_secrets`).

Names that look like credentials (:data:`CREDENTIAL_NAME`) are a second layer, for
keys of unknown attributes, query parameters and headers. The values found in any
of these positions are collected so that :class:`Scrubber` can remove them from
every other text the log keeps (an error message echoing its input).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

from pydantic import BaseModel
from scim2_models import Mutability, Returned

from ..conf import reload_hooks
from . import schema

REDACTED = "[redacted]"

#: Names of keys, query parameters and headers whose values are treated as secrets.
CREDENTIAL_NAME = re.compile(
    r"pass|pwd|secret|token|credential|auth|api[-_]?key|(?:^|[-_.])key$|signature|^sig$"
    r"|session|cookie",
    re.IGNORECASE,
)

#: Values shorter than this are not scrubbed from free text: they would match everywhere.
MIN_SCRUBBED_LENGTH = 4
#: SCIM documents are a few levels deep; anything deeper than this is not walked but
#: redacted whole, so a hostile body cannot exhaust the stack.
MAX_DEPTH = 32

#: A PATCH path or key longer than this is not parsed but treated as a secret.
MAX_PATH_LENGTH = 1024
#: The attribute path of anything too long to parse: always secret.
OVERLONG = ("\x00overlong",)
_RESOURCE_TYPES = {"users": "User", "groups": "Group"}


def _attribute_text(path: str) -> str:
    """``path`` without value filters: ``emails[type eq "work"].value`` is ``emails.value``;
    an unclosed ``[`` drops the rest. One pass, no backtracking (paths are attacker input)."""
    kept: list[str] = []
    depth, quoted, escaped = 0, False, False
    for char in path.strip():
        if not depth:
            if char == "[":
                depth = 1
            else:
                kept.append(char)
        elif quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
    return "".join(kept)


@dataclass(frozen=True)
class SecretAttributes:
    """The secret attributes of a resource type, as lowercased attribute paths: an
    extension's attributes under its schema URN (``("urn:…:user", "pin")``)."""

    core_schemas: tuple[str, ...]
    #: Declared extension URNs, longest first (one may be a prefix of another).
    extension_schemas: tuple[str, ...]
    paths: frozenset[tuple[str, ...]]

    def parts(self, path: str) -> tuple[str, ...]:
        """The attribute path of a PATCH ``path`` or a top-level key: URN prefixes
        resolved, value filters (``emails[type eq "work"]``) left out, lowercased."""
        if len(path) > MAX_PATH_LENGTH:
            return OVERLONG
        text = _attribute_text(path).lower()
        for urn in self.extension_schemas:
            if text == urn:
                return (urn,)
            if text.startswith(urn + ":"):
                return (urn, *text[len(urn) + 1 :].split("."))
        for urn in self.core_schemas:
            if text == urn:
                return ()
            if text.startswith(urn + ":"):
                text = text[len(urn) + 1 :]
                break
        return tuple(text.split("."))

    def is_secret(self, parts: tuple[str, ...]) -> bool:
        """Whether ``parts`` is a secret attribute or lies inside one."""
        if parts == OVERLONG:
            return True
        return any(parts[:length] in self.paths for length in range(1, len(parts) + 1))


def _secret_paths(model: Any, prefix: tuple[str, ...], depth: int = 0) -> set[tuple[str, ...]]:
    paths: set[tuple[str, ...]] = set()
    for name, field in model.model_fields.items():
        path = (*prefix, (field.serialization_alias or name).lower())
        if (
            model.get_field_annotation(name, Mutability) == Mutability.write_only
            or model.get_field_annotation(name, Returned) == Returned.never
        ):
            paths.add(path)
            continue
        root = model.get_field_root_type(name)
        if depth < MAX_DEPTH and isinstance(root, type) and issubclass(root, BaseModel):
            paths |= _secret_paths(root, path, depth + 1)  # extensions, complex attributes
    return paths


def _attributes_of(model: Any) -> SecretAttributes:
    return SecretAttributes(
        core_schemas=(str(model.__schema__).lower(),),
        extension_schemas=tuple(
            sorted((urn.lower() for urn in model.get_extension_models()), key=len, reverse=True)
        ),
        paths=frozenset(_secret_paths(model, ())),
    )


#: The scim2-models model of each resource type, with the configured extensions.
_MODELS = {"User": schema.user_model, "Group": schema.group_model}


@cache
def secret_attributes(resource_type: str | None) -> SecretAttributes:
    """The secret attributes of ``"User"`` or ``"Group"`` with the configured extensions;
    of both when the resource type is not known (None)."""
    model = _MODELS.get(resource_type or "")
    if model is not None:
        return _attributes_of(model())
    both = [secret_attributes(name) for name in _MODELS]
    return SecretAttributes(
        core_schemas=tuple(urn for item in both for urn in item.core_schemas),
        extension_schemas=tuple(
            sorted({urn for item in both for urn in item.extension_schemas}, key=len, reverse=True)
        ),
        paths=both[0].paths | both[1].paths,
    )


reload_hooks.append(secret_attributes.cache_clear)


def resource_type_for(path: str) -> str | None:
    """``"User"`` or ``"Group"`` for an endpoint path (``/Users``, ``/Groups/<id>``,
    ``Users/.search``), None for any other."""
    head = next((part for part in path.split("/") if part), "")
    return _RESOURCE_TYPES.get(head.lower())


# Structures


def _collect(value: Any, found: set[str], depth: int = 0) -> None:
    """Every scalar in ``value``, as text, into ``found``."""
    if isinstance(value, str):
        found.add(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        found.add(str(value))
    elif depth < MAX_DEPTH and isinstance(value, dict):
        for item in value.values():
            _collect(item, found, depth + 1)
    elif depth < MAX_DEPTH and isinstance(value, list):
        for item in value:
            _collect(item, found, depth + 1)


def _walk(
    value: Any,
    parts: tuple[str, ...],
    attributes: SecretAttributes,
    found: set[str],
    *,
    drop: bool,
    depth: int = 0,
) -> Any:
    """``value`` at attribute path ``parts`` (``()``: a resource's top level) with its
    secret attributes replaced by :data:`REDACTED`, or left out when ``drop``."""
    if depth > MAX_DEPTH:
        return value if drop else REDACTED
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            name = str(key)
            child = (*parts, *name.lower().split(".")) if parts else attributes.parts(name)
            if not attributes.is_secret(child):
                result[key] = _walk(item, child, attributes, found, drop=drop, depth=depth + 1)
            elif not drop:
                _collect(item, found)
                result[key] = REDACTED
        return result
    if isinstance(value, list):
        return [_walk(item, parts, attributes, found, drop=drop, depth=depth + 1) for item in value]
    return value


def redact_resource(body: Any, resource_type: str | None, found: set[str] | None = None) -> Any:
    """A resource body (POST, PUT, a Bulk operation's data) with its secret attributes
    redacted; their values are added to ``found``."""
    found = set() if found is None else found
    return _walk(body, (), secret_attributes(resource_type), found, drop=False)


def without_secrets(document: dict[str, Any], resource_type: str) -> dict[str, Any]:
    """``document`` without its secret attributes: what may be stored."""
    result: dict[str, Any] = _walk(document, (), secret_attributes(resource_type), set(), drop=True)
    return result


def _get(mapping: Mapping[Any, Any], name: str) -> Any:
    return next((value for key, value in mapping.items() if str(key).lower() == name), None)


def _redact_operation(operation: Any, attributes: SecretAttributes, found: set[str]) -> Any:
    if not isinstance(operation, dict):
        return operation
    path = _get(operation, "path")
    path = path if isinstance(path, str) else ""
    parts = attributes.parts(path) if path.strip() else ()
    secret = attributes.is_secret(parts) or bool(CREDENTIAL_NAME.search(_attribute_text(path)))
    result = {}
    for key, value in operation.items():
        if str(key).lower() != "value":
            result[key] = value
        elif secret:
            _collect(value, found)
            result[key] = REDACTED
        else:
            result[key] = _walk(value, parts, attributes, found, drop=False)
    return result


def _redact_operations(body: Any, redact_one: Callable[[Any], Any]) -> Any:
    if not isinstance(body, dict):
        return body
    return {
        key: [redact_one(item) for item in value]
        if str(key).lower() == "operations" and isinstance(value, list)
        else value
        for key, value in body.items()
    }


def redact_patch(body: Any, resource_type: str | None, found: set[str] | None = None) -> Any:
    """A PatchOp body with the values of operations on secret attributes redacted, by
    ``path`` (``password``, ``urn:…:User:pin``) or inside a value object."""
    found = set() if found is None else found
    attributes = secret_attributes(resource_type)
    return _redact_operations(
        body, lambda operation: _redact_operation(operation, attributes, found)
    )


def _redact_bulk_operation(operation: Any, found: set[str]) -> Any:
    if not isinstance(operation, dict):
        return operation
    path = _get(operation, "path")
    resource_type = resource_type_for(path) if isinstance(path, str) else None
    return {
        # data is a resource (POST, PUT) or a PatchOp (PATCH): redact it as both, so
        # a mislabelled method cannot let a secret through.
        key: redact_patch(redact_resource(value, resource_type, found), resource_type, found)
        if str(key).lower() == "data"
        else value
        for key, value in operation.items()
    }


def redact_bulk(body: Any, found: set[str] | None = None) -> Any:
    """A BulkRequest with each operation's ``data`` redacted for the resource type its
    ``path`` names."""
    found = set() if found is None else found
    return _redact_operations(body, lambda operation: _redact_bulk_operation(operation, found))


def redact_names(value: Any, found: set[str] | None = None, depth: int = 0) -> Any:
    """``value`` with the value of every key named like a credential redacted, whatever
    the schema says (unknown attributes)."""
    found = set() if found is None else found
    if depth > MAX_DEPTH:
        return REDACTED
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if CREDENTIAL_NAME.search(str(key)):
                _collect(item, found)
                result[key] = REDACTED
            else:
                result[key] = redact_names(item, found, depth + 1)
        return result
    if isinstance(value, list):
        return [redact_names(item, found, depth + 1) for item in value]
    return value


def redact_body(body: Any, endpoint: str, found: set[str] | None = None) -> Any:
    """A request body for ``endpoint`` (the path after the connection's SCIM prefix)
    with every secret redacted: a BulkRequest at ``/Bulk``; elsewhere a resource or a
    PatchOp, for the endpoint's resource type (both types at an unknown endpoint)."""
    found = set() if found is None else found
    if endpoint.strip("/").lower() == "bulk":
        body = redact_bulk(body, found)
    elif endpoint.lower().endswith(".search") and isinstance(body, dict):
        body = {
            key: REDACTED if str(key).lower() == "filter" and names_a_secret(item, found) else item
            for key, item in body.items()
        }
    else:
        resource_type = resource_type_for(endpoint)
        body = redact_patch(redact_resource(body, resource_type, found), resource_type, found)
    return redact_names(body, found)


# Query strings and headers


_FILTER_WORD = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s()\[\]"]+')


def names_a_secret(filter_text: Any, found: set[str]) -> bool:
    """Whether a filter compares a secret attribute (``password eq "…"``); if so, its
    quoted values join ``found``. Filtering on a secret never matches anything: the
    whole filter is redacted rather than parsed."""
    if not isinstance(filter_text, str):
        return False
    if len(filter_text) > MAX_PATH_LENGTH * 8:
        return True
    attributes = secret_attributes(None)
    words = _FILTER_WORD.findall(filter_text)
    if not any(
        not word.startswith('"') and attributes.is_secret(attributes.parts(word)) for word in words
    ):
        return False
    found.update(word[1:-1] for word in words if word.startswith('"') and len(word) > 2)
    return True


def redact_query(query: str, found: set[str] | None = None) -> str:
    """A raw query string with the value of each credential-named parameter
    (``access_token``, ``api_key`` …), and of a filter on a secret attribute, replaced
    by :data:`REDACTED`."""
    found = set() if found is None else found
    parameters = query.split("&")
    for index, parameter in enumerate(parameters):
        name, equals, value = parameter.partition("=")
        plain = unquote_plus(name)
        secret = CREDENTIAL_NAME.search(plain) or (
            plain.lower() == "filter" and names_a_secret(unquote_plus(value), found)
        )
        if equals and secret:
            found.update({value, unquote_plus(value)})
            parameters[index] = f"{name}={REDACTED}"
    return "&".join(parameters)


def _basic_secrets(encoded: str) -> set[str]:
    """The decoded ``user:password`` of HTTP Basic credentials, and the password."""
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return set()
    return {decoded, decoded.partition(":")[2]} - {""}


def header_secrets(meta: Mapping[str, Any]) -> set[str]:
    """The values of a request's credential headers (``Authorization``, ``Cookie``,
    ``X-Api-Key`` …): the whole value, the credential after its scheme, cookie values."""
    found: set[str] = set()
    for key, value in meta.items():
        if not (key.startswith("HTTP_") and CREDENTIAL_NAME.search(key[5:])):
            continue
        text = str(value)
        found.add(text)
        scheme_and_credential = text.split(None, 1)
        if len(scheme_and_credential) == 2:
            credential = scheme_and_credential[1].strip()
            found.add(credential)
            if scheme_and_credential[0].lower() == "basic":
                found.update(_basic_secrets(credential))
        for pair in re.split(r"[;,]", text):
            found.add(pair.partition("=")[2].strip())
    return found


# Free text


def _forms(value: str) -> set[str]:
    """``value`` as it may appear in stored text: as is, JSON-escaped, repr-escaped,
    URL-encoded."""
    return {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
        quote(value, safe="", errors="replace"),
        quote_plus(value, safe="", errors="replace"),
    }


class Scrubber:
    """Replaces a request's secret values wherever they appear in a text."""

    def __init__(self, values: Iterable[str]) -> None:
        forms = {form for value in values for form in _forms(value)}
        self.forms = sorted(
            (form for form in forms if len(form) >= MIN_SCRUBBED_LENGTH), key=len, reverse=True
        )
        #: Characters past a cut that a secret starting before it may reach.
        self.margin = len(self.forms[0]) if self.forms else 0

    def __call__(self, text: str) -> str:
        for form in self.forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def fit(self, text: str, limit: int, mark: str = "") -> str:
        """``text`` scrubbed and cut to ``limit`` characters, ending in ``mark`` when cut.
        Scrubbed before it is cut: a secret cut in half would not be found."""
        text = self(text[: limit + self.margin])
        return text if len(text) <= limit else text[: limit - len(mark)] + mark
