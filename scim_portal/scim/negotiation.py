"""Content negotiation: accept SCIM and plain JSON, always answer SCIM JSON."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

SCIM_MEDIA_TYPE = "application/scim+json"


class ScimJSONRenderer(JSONRenderer):
    media_type = SCIM_MEDIA_TYPE
    charset = None


class ScimJSONParser(JSONParser):
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
