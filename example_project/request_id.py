"""A request id for every request, in the response and in every log line.

``RequestIdMiddleware`` takes the id the load balancer sent (``X-Request-ID``, when it
looks like one) or makes one, keeps it in a context variable for the request's
duration and returns it in the response's ``X-Request-ID`` header (gunicorn's access
log prints that header). ``RequestIdFilter`` adds it to log records as
``%(request_id)s`` (``-`` outside a request). Other code reads it with
:func:`current_request_id`, e.g. to put it in an error body.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

HEADER = "X-Request-ID"
_META_KEY = "HTTP_X_REQUEST_ID"
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{8,128}")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled in this thread, or None."""
    return _request_id.get()


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        sent = request.META.get(_META_KEY, "")
        request_id = sent if _ACCEPTABLE.fullmatch(sent) else uuid.uuid4().hex
        request.request_id = request_id
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response[HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            # django.request logs 4xx/5xx after the middleware returned; its records carry
            # the request itself.
            request = getattr(record, "request", None)
            record.request_id = _request_id.get() or getattr(request, "request_id", None) or "-"
        return True
