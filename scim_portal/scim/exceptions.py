"""SCIM errors: raise one of these, the exception handler renders it.

Every failure under the SCIM prefix leaves as a SCIM Error message
(RFC 7644 §3.12), never as Django's HTML or DRF's default JSON.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response

logger = logging.getLogger("scim_portal.scim")

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
#: Seconds an IdP is asked to wait when the database cannot be reached (integer
#: seconds: Okta honours no other form of ``Retry-After``).
DATABASE_RETRY_AFTER = 30


class ScimError(drf_exceptions.APIException):
    """A SCIM protocol error with an HTTP status and an optional ``scimType``."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    scim_type: str | None = None
    default_detail = "The request is invalid."

    def __init__(
        self,
        detail: str | None = None,
        *,
        status_code: int | None = None,
        scim_type: str | None = None,
    ) -> None:
        super().__init__(detail or self.default_detail)
        if status_code is not None:
            self.status_code = status_code
        if scim_type is not None:
            self.scim_type = scim_type


class InvalidFilter(ScimError):
    scim_type = "invalidFilter"
    default_detail = "The filter is invalid or not supported."


class InvalidSyntax(ScimError):
    scim_type = "invalidSyntax"
    default_detail = "The request body could not be parsed."


class InvalidValue(ScimError):
    scim_type = "invalidValue"
    default_detail = "A required value is missing or a value is not compatible."


class InvalidPath(ScimError):
    scim_type = "invalidPath"
    default_detail = "The path attribute is invalid or malformed."


class InvalidCursor(ScimError):
    scim_type = "invalidCursor"
    default_detail = (
        "The cursor is not valid for this query; send an empty cursor for the first page, "
        "then the nextCursor or previousCursor of a response."
    )


class ExpiredCursor(ScimError):
    scim_type = "expiredCursor"
    default_detail = "The cursor has expired; start again with an empty cursor."


class InvalidCount(ScimError):
    scim_type = "invalidCount"
    default_detail = "The count is not valid for this query."


class Uniqueness(ScimError):
    status_code = status.HTTP_409_CONFLICT
    scim_type = "uniqueness"
    default_detail = "A resource with that unique value already exists."


class NotFound(ScimError):
    status_code = status.HTTP_404_NOT_FOUND
    default_detail = "Resource not found."


class PreconditionFailed(ScimError):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource has changed since the version given in If-Match."


class PayloadTooLarge(ScimError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."


def error_body(status_code: int, detail: str, scim_type: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status_code), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return body


def _detail_text(detail: Any) -> str:
    if isinstance(detail, list):
        return " ".join(_detail_text(item) for item in detail)
    if isinstance(detail, dict):
        return " ".join(f"{key}: {_detail_text(value)}" for key, value in detail.items())
    return str(detail)


#: SQLSTATEs of a server going away or full (class 08: connection exceptions).
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300")
#: SQLSTATEs a retry of the same request resolves soon: serialization failure,
#: deadlock, lock not available.
_CONTENTION_STATES = ("40001", "40P01", "55P03")
CONTENTION_RETRY_AFTER = 2


def retry_after(exc: Exception) -> int | None:
    """Seconds to wait when ``exc`` is a database condition a retry will get past (the
    server unreachable or restarting, contention), else None: a query that fails every
    time (a timeout, a missing table after a deploy without ``migrate``) is a 500, not
    a 503 the IdP would retry for ever."""
    if isinstance(exc, InterfaceError):
        return DATABASE_RETRY_AFTER  # the connection is closed
    if not isinstance(exc, OperationalError):
        return None
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if state is None:
        message = str(cause or exc).lower()
        if "database is locked" in message or "database table is locked" in message:
            return CONTENTION_RETRY_AFTER  # SQLite, past its busy timeout
        if "no such" in message or "syntax error" in message:
            return None  # SQLite: the schema is not what the code expects
        return DATABASE_RETRY_AFTER  # psycopg: no server answered at all
    if str(state).startswith(_UNAVAILABLE_STATES):
        return DATABASE_RETRY_AFTER
    if str(state) in _CONTENTION_STATES:
        return CONTENTION_RETRY_AFTER
    return None


def request_id(context: dict[str, Any]) -> str:
    """The id of the request being answered (``X-Request-ID``; see ``ScimView``)."""
    request = context.get("request")
    return str(getattr(request, "scim_request_id", "") or "-")


def scim_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Render any exception raised by a SCIM view as a SCIM Error."""
    headers: dict[str, str] = {}
    status_code: int
    if isinstance(exc, Http404):
        exc = NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    if isinstance(exc, ScimError):
        status_code, scim_type, detail = exc.status_code, exc.scim_type, _detail_text(exc.detail)
    elif isinstance(exc, drf_exceptions.APIException):
        status_code, scim_type = exc.status_code, None
        detail = _detail_text(exc.detail)
        if isinstance(exc, drf_exceptions.ParseError):
            scim_type = "invalidSyntax"
        if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
            status_code = status.HTTP_401_UNAUTHORIZED
        wait = getattr(exc, "wait", None)
        if isinstance(exc, drf_exceptions.Throttled) and wait is not None:
            headers["Retry-After"] = str(int(wait))
    elif (wait := retry_after(exc)) is not None:
        # The database is down, restarting or busy: temporary, said once in the log.
        logger.error("Database unavailable for a SCIM request (%s): %s", request_id(context), exc)
        status_code, scim_type = status.HTTP_503_SERVICE_UNAVAILABLE, None
        detail = "The service is temporarily unavailable; please retry later."
        headers["Retry-After"] = str(wait)
    else:
        reference = request_id(context)
        logger.exception("Unhandled error in SCIM request %s", reference, exc_info=exc)
        status_code, scim_type = status.HTTP_500_INTERNAL_SERVER_ERROR, None
        detail = (
            f"The server could not process the request. It has been logged as {reference}; "
            "please retry."
        )

    if status_code == status.HTTP_401_UNAUTHORIZED:
        # What the view's authentication class says (DRF puts it on the exception).
        headers["WWW-Authenticate"] = getattr(exc, "auth_header", None) or "Bearer"
    return Response(error_body(status_code, detail, scim_type), status=status_code, headers=headers)
