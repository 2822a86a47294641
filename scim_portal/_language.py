"""Machine-facing answers stay English: the SCIM endpoints and the management API."""

from __future__ import annotations

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
        response.headers["Content-Language"] = "en"
        return response
