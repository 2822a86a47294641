"""Machine-facing answers stay English: the SCIM endpoints and the management API."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.utils import translation


class EnglishAnswers:
    """A view mixin (before DRF's ``APIView``): the answer is written in English whatever
    the client's ``Accept-Language``, the language cookie or ``LANGUAGE_CODE`` say, so an
    identity provider or a script reads the same words everywhere; the portal and admin
    follow the visitor's language."""

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        with translation.override("en"):
            response = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
            # Rendered here, in English: lazy words would otherwise be rendered later,
            # in the language LocaleMiddleware chose.
            if callable(getattr(response, "render", None)):
                response.render()
        if getattr(response, "streaming", False) and not getattr(response, "is_async", False):
            # A streamed body (the drift CSV) is written after the view returned.
            response.streaming_content = _in_english(response.streaming_content)
        response.headers["Content-Language"] = "en"
        return response


def _in_english(chunks: Iterable[Any]) -> Iterator[Any]:
    """``chunks``, each one made in English (the language switched per chunk, so that the
    server's thread keeps its own between them)."""
    iterator = iter(chunks)
    while True:
        with translation.override("en"):
            try:
                chunk = next(iterator)
            except StopIteration:
                return
        yield chunk
