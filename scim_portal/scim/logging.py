"""Recording SCIM requests in the request log, with secrets redacted."""

from __future__ import annotations

import json
import re
from typing import Any

from ..conf import app_settings
from ..models import RequestLog, _sql
from ..providers import provider_for_user_agent

SECRET_KEY = re.compile(r"pass(word)?|secret|token|authorization|credential", re.IGNORECASE)
REDACTED = "[redacted]"
_SECRET_IN_TEXT = re.compile(
    r'("(?:[^"]*(?:pass(?:word)?|secret|token)[^"]*)"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE
)


def redact(value: Any) -> Any:
    """``value`` with every secret-looking key's value replaced."""
    if isinstance(value, dict):
        return {
            key: REDACTED if SECRET_KEY.search(str(key)) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def body_text(raw: bytes | str | None, parsed: Any = None) -> str:
    """A redacted, truncated text of a body for the log."""
    limit = app_settings.REQUEST_LOG_BODY_LIMIT
    if parsed is None and raw:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        try:
            parsed = json.loads(text)
        except ValueError:
            return _SECRET_IN_TEXT.sub(rf'\1"{REDACTED}"', text)[:limit]
    if parsed is None:
        return ""
    text = json.dumps(redact(parsed), ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clean(value: str) -> str:
    """PostgreSQL text cannot hold NUL: keep it visible, escaped."""
    return value.replace("\x00", "\\u0000")


def _insert(**fields: Any) -> None:
    for name, value in fields.items():
        if isinstance(value, str):
            fields[name] = _clean(value)
    _sql.insert(RequestLog(**fields))  # on every request: SQL written once, no id read back


def record(
    *,
    connection_id: Any,
    request: Any,
    status: int,
    duration_ms: float,
    request_body: bytes | None,
    response_data: Any,
    token_prefix: str = "",
    warning: str = "",
) -> None:
    """Insert one log row (one query)."""
    user_agent = request.META.get("HTTP_USER_AGENT", "")[:512]
    scim_type = detail = ""
    if isinstance(response_data, dict) and status >= 400:
        scim_type = str(response_data.get("scimType") or "")[:32]
        detail = str(response_data.get("detail") or "")[:2000]
    _insert(
        connection_id=connection_id,
        method=request.method,
        path=request.path[:2048],
        query=request.META.get("QUERY_STRING", "")[:4096],
        status=status,
        duration_ms=round(duration_ms, 3),
        scim_type=scim_type,
        detail=detail,
        user_agent=user_agent,
        idp=provider_for_user_agent(user_agent),
        token_prefix=token_prefix,
        warning=warning[:2000],
        request_body=body_text(request_body),
        # A successful read's answer is large and can be fetched again: keep writes and errors.
        response_body=body_text(None, response_data)
        if request.method != "GET" or status >= 400
        else "",
    )
