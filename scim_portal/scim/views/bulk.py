"""Bulk (RFC 7644 section 3.7)."""

from __future__ import annotations

import logging
import re
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from ...conf import app_settings
from .. import exceptions
from ..exceptions import (
    InvalidValue,
    PayloadTooLarge,
)
from ..operations import ResourceOperations
from ..resources import GROUPS, USERS, ResourceKind, ResponseShape
from .base import ScimView, integer_parameter

logger = logging.getLogger("scim_portal.scim")

BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
_BULK_REFERENCE = re.compile(r"bulkId:([^\s/\"]+)")


class UnresolvedBulkId(exceptions.ScimError):
    status_code = 409
    scim_type = "invalidValue"


class BulkView(ScimView):
    """Several operations in one request, each in its own transaction, in order;
    ``bulkId:<id>`` in a later operation stands for the id an earlier POST created."""

    def max_body_bytes(self) -> int:
        return int(app_settings.BULK_MAX_PAYLOAD_SIZE)

    def post(self, request: Request, connection_id: Any) -> Response:
        body: Any = request.data
        if not isinstance(body, dict):
            raise exceptions.InvalidSyntax("A Bulk request body must be a JSON object.")
        operations = body.get("Operations")
        if not isinstance(operations, list):
            raise exceptions.InvalidSyntax("A Bulk request needs an 'Operations' list.")
        if len(operations) > app_settings.BULK_MAX_OPERATIONS:
            raise PayloadTooLarge(
                f"A Bulk request may hold at most {app_settings.BULK_MAX_OPERATIONS} operations."
            )
        fail_on_errors = integer_parameter(body.get("failOnErrors"), "failOnErrors")
        created: dict[str, str] = {}
        results: list[dict[str, Any]] = []
        errors = 0
        for operation in operations:
            if fail_on_errors and errors >= fail_on_errors:
                break
            result = self._run(operation, created)
            errors += int(result["status"]) >= 400
            results.append(result)
        return Response({"schemas": [BULK_RESPONSE], "Operations": results})

    def _run(self, operation: Any, created: dict[str, str]) -> dict[str, Any]:
        if not isinstance(operation, dict):
            return _bulk_error({}, exceptions.InvalidSyntax("Each operation must be an object."))
        method = str(operation.get("method", "")).upper()
        bulk_id = operation.get("bulkId")
        entry: dict[str, Any] = {"method": method}
        if bulk_id is not None:
            entry["bulkId"] = bulk_id
        try:
            path = _resolve_bulk_ids(str(operation.get("path", "")), created)
            data = _resolve_bulk_ids(operation.get("data"), created)
            kind, resource_id = self._target(path, method)
            ops = ResourceOperations(
                kind,
                self.connection,
                self.base_url(),
                ResponseShape(),
                self.actor(),
                self.dialect(),
            )
            version = operation.get("version")
            if method == "POST":
                if not bulk_id:
                    raise InvalidValue("A POST operation needs a 'bulkId'.")
                outcome = ops.create(data)
                assert outcome.data is not None
                created[str(bulk_id)] = outcome.data["id"]
                resource_id = outcome.data["id"]
            elif method == "PUT":
                outcome = ops.replace(resource_id, data, version)
            elif method == "PATCH":
                outcome = ops.patch(resource_id, data, version)
            elif method == "DELETE":
                outcome = ops.delete(resource_id, version)
            else:
                raise InvalidValue(f"Unsupported Bulk method {method!r}.")
        except exceptions.ScimError as exc:
            return _bulk_error(entry, exc)
        except Exception as exc:
            logger.exception("Unhandled error in a Bulk operation", exc_info=exc)
            return _bulk_error(
                entry, exceptions.ScimError("The operation failed.", status_code=500)
            )
        if outcome.warning:
            self.warnings.append(outcome.warning)
        entry["status"] = str(outcome.status)
        if method != "DELETE":
            entry["location"] = f"{self.base_url()}/{kind.endpoint}/{resource_id}"
            if "ETag" in outcome.headers:
                entry["version"] = outcome.headers["ETag"]
        return entry

    @staticmethod
    def _target(path: str, method: str) -> tuple[ResourceKind, str]:
        parts = [part for part in path.split("/") if part]
        kinds = {kind.endpoint: kind for kind in (USERS, GROUPS)}
        if not parts or parts[0] not in kinds or len(parts) > 2:
            raise InvalidValue(f"Unsupported Bulk path {path!r}.")
        if (method == "POST") != (len(parts) == 1):
            raise InvalidValue(f"{method} cannot target {path!r}.")
        return kinds[parts[0]], parts[1] if len(parts) == 2 else ""


def _resolve_bulk_ids(value: Any, created: dict[str, str]) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            if match[1] not in created:
                raise UnresolvedBulkId(
                    f"bulkId {match[1]!r} is not created by an earlier operation."
                )
            return created[match[1]]

        return _BULK_REFERENCE.sub(replace, value)
    if isinstance(value, list):
        return [_resolve_bulk_ids(item, created) for item in value]
    if isinstance(value, dict):
        return {key: _resolve_bulk_ids(item, created) for key, item in value.items()}
    return value


def _bulk_error(entry: dict[str, Any], exc: exceptions.ScimError) -> dict[str, Any]:
    detail = str(exc.detail)
    return {
        **entry,
        "status": str(exc.status_code),
        "response": exceptions.error_body(exc.status_code, detail, exc.scim_type),
    }
