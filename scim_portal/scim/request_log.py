"""Recording SCIM requests in the request log, with secrets redacted (see
:mod:`.redaction`)."""

from __future__ import annotations

import json
import re
from typing import Any

from .._addresses import client_address
from ..conf import app_settings
from ..models import RequestLog
from ..providers import provider_for_user_agent
from . import redaction
from .redaction import REDACTED, Scrubber

#: A token of a body that is not JSON: a string (a key when a colon follows; it may
#: run to the end of a cut text), or a run of anything but JSON punctuation.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*(?:"|$)(?P<key>\s*:)?|[^\s{}\[\],:"]+')
_LITERALS = {"true", "false", "null"}


def _structure_only(text: str) -> str:
    """A body that does not parse, with its keys and punctuation only: without the
    schema's view of it, any other token might be a secret."""

    def mask(match: re.Match[str]) -> str:
        token = match[0]
        if match["key"] is not None or token in _LITERALS:
            return token
        return f'"{REDACTED}"' if token.startswith('"') else REDACTED

    return _TOKEN.sub(mask, text)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def request_text(raw: bytes | None, endpoint: str, found: set[str]) -> str:
    """The text of a request body for the log, secrets redacted (their values added to
    ``found``), not yet scrubbed (a body that does not parse is already cut to the
    limit). ``endpoint`` is the path after the connection's SCIM prefix (``/Users/<id>``,
    ``/Bulk``)."""
    if not raw:
        return ""
    text = raw.decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        limit = app_settings.REQUEST_LOG_BODY_LIMIT
        return _structure_only(text[:limit]) + ("…" if len(text) > limit else "")
    return _json_text(redaction.redact_body(parsed, endpoint, found))


def response_text(data: Any, found: set[str]) -> str:
    """The text of a response body for the log (not yet scrubbed nor cut)."""
    return "" if data is None else _json_text(redaction.redact_names(data, found))


def _endpoint(path: str, connection_id: Any) -> str:
    return path.partition(f"/{connection_id}")[2]


def _clean(value: str) -> str:
    """PostgreSQL text cannot hold NUL: keep it visible, escaped."""
    return value.replace("\x00", "\\u0000")


def _insert(scrub: Scrubber, **fields: Any) -> None:
    for name, value in fields.items():
        if isinstance(value, str):
            fields[name] = _clean(scrub(value))
    RequestLog.objects.insert(RequestLog(**fields))


def record(
    *,
    connection_id: Any,
    request: Any,
    status: int,
    duration_ms: float,
    request_body: bytes | None,
    response_data: Any,
    token_prefix: str = "",
    credential_kind: str = "",
    warning: str = "",
    request_id: str = "",
) -> None:
    """Insert one log row (one query)."""
    user_agent = request.META.get("HTTP_USER_AGENT", "")[:512]
    scim_type = detail = ""
    if isinstance(response_data, dict) and status >= 400:
        scim_type = str(response_data.get("scimType") or "")[:32]
        detail = str(response_data.get("detail") or "")
    # Secrets found in the request (body, query, credential headers) are redacted where
    # they are, then scrubbed from every text of the row, wherever echoed.
    found = redaction.header_secrets(request.META)
    # An unauthenticated request's body is nobody's: not parsed, not kept.
    body = (
        request_text(request_body, _endpoint(request.path, connection_id), found)
        if token_prefix
        else ""
    )
    query = redaction.redact_query(request.META.get("QUERY_STRING", ""), found)
    # A successful read's answer is large and can be fetched again: keep writes and errors.
    keeps_response = request.method != "GET" or status >= 400
    response = response_text(response_data, found) if keeps_response else ""
    scrub = Scrubber(found)
    body_limit = app_settings.REQUEST_LOG_BODY_LIMIT
    _insert(
        scrub,
        connection_id=connection_id,
        method=request.method,
        path=request.path[:2048],
        query=scrub.fit(query, 4096),
        status=status,
        duration_ms=round(duration_ms, 3),
        scim_type=scim_type,
        detail=scrub.fit(detail, 2000),
        user_agent=user_agent,
        source_ip=client_address(request),
        idp=provider_for_user_agent(user_agent),
        token_prefix=token_prefix,
        credential_kind=credential_kind,
        warning=warning[:2000],
        request_id=request_id[:128],
        request_body=scrub.fit(body, body_limit, "…"),
        response_body=scrub.fit(response, body_limit, "…"),
    )
