"""Content negotiation: accept SCIM and plain JSON, always answer SCIM JSON."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

SCIM_MEDIA_TYPE = "application/scim+json"
#: SCIM documents nest a few levels (a Bulk operation's PATCH value: about 8); anything
#: deeper than this is refused before any code walks it recursively.
MAX_JSON_DEPTH = 64
#: What no database column stores: NUL (PostgreSQL text cannot hold it) and a UTF-16
#: surrogate, which a ``str`` holds only alone (JSON's ``"\\ud800"``), never encodable.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> str | None:
    """What in ``text`` no database can store, in words, or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    return "a NUL character" if found[0] == "\x00" else "a lone UTF-16 surrogate"


def unstorable_in(value: Any) -> str | None:
    """:func:`unstorable` over every key and string of a JSON document (or of any
    iterable of them: a ``QueryDict``'s ``lists()``)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if found := unstorable(item):
                return found
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, Iterable) and not isinstance(item, bytes):
            stack.extend(item)
    return None


class ScimJSONRenderer(JSONRenderer):
    media_type = SCIM_MEDIA_TYPE
    charset = None


def nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects and arrays more than ``limit`` deep (without
    recursion; only containers are visited, and the walk stops at the first too deep)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class DepthLimitedJSONParser(JSONParser):
    """JSON, refused with a parse error (400 ``invalidSyntax``) when it nests deeper
    than :data:`MAX_JSON_DEPTH`, including bodies too deep for Python's parser."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body nests too deeply.") from None
        if nests_deeper_than(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON parse error - the body nests deeper than {MAX_JSON_DEPTH}.")
        return data


class ScimJSONParser(DepthLimitedJSONParser):
    media_type = SCIM_MEDIA_TYPE


class ScimContentNegotiation(BaseContentNegotiation):
    """IdPs send every Accept header imaginable; the answer is always SCIM JSON."""

    def select_parser(self, request: Any, parsers: Iterable[Any]) -> Any:
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        for parser in parsers:
            if parser.media_type == content_type:
                return parser
        return None

    def select_renderer(
        self, request: Any, renderers: Iterable[Any], format_suffix: str | None = None
    ) -> tuple[Any, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type
