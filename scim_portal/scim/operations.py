"""Writes to one resource, shared by the single-resource endpoints and Bulk.

Each method validates the request, calls the provisioning service (one
transaction) and returns an :class:`Outcome`; service errors become SCIM errors.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from rest_framework.response import Response
from scim2_models import PatchOp
from scim2_models import SCIMException as ModelsScimException

from ..models import Connection
from ..models.directory import resource_key
from ..provisioning import directory
from ..provisioning.events import Actor
from ..provisioning.exceptions import (
    EmailOutsideDomains,
    HostProvisioningFailed,
    InvalidDocument,
    InvalidMembers,
    ResourceNotFound,
    UniquenessConflict,
    VersionMismatch,
)
from . import exceptions, schema
from .exceptions import InvalidPath, InvalidValue, NotFound, PreconditionFailed
from .filters import parse
from .members import listed_members
from .providers import TOLERANT, Dialect
from .resources import Build, Related, ResourceKind, ResponseShape, models_error
from .targets import equal_values

logger = logging.getLogger("scim_portal.scim")

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP_CORE = "urn:ietf:params:scim:schemas:core:2.0:group:"


@dataclass
class Outcome:
    """The answer to one operation: status, body and headers."""

    status: int
    data: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: What was accepted but flagged, for the request log.
    warning: str = ""

    def response(self) -> Response:
        return Response(self.data, status=self.status, headers=self.headers)


def translate_provisioning_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the service layer's errors into SCIM errors."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ResourceNotFound as exc:
            raise NotFound(str(exc)) from exc
        except UniquenessConflict as exc:
            raise exceptions.Uniqueness(str(exc)) from exc
        except VersionMismatch as exc:
            raise PreconditionFailed(str(exc)) from exc
        except (InvalidMembers, InvalidDocument, EmailOutsideDomains) as exc:
            raise InvalidValue(str(exc)) from exc
        except ModelsScimException as exc:
            raise models_error(exc) from exc
        except HostProvisioningFailed as exc:
            logger.exception("The provisioning adapter failed in %s", exc.hook)
            raise exceptions.ScimError(str(exc), status_code=500) from exc

    return wrapper


class ResourceOperations:
    """Create, replace, patch and delete resources of one kind in one connection."""

    def __init__(
        self,
        kind: ResourceKind,
        connection: Connection,
        base_url: str,
        shape: ResponseShape,
        actor: Actor,
        dialect: Dialect = TOLERANT,
    ) -> None:
        self.kind = kind
        self.connection = connection
        self.base_url = base_url
        self.shape = shape
        self.actor = actor
        #: How the client speaks (its provider's normalisers first).
        self.dialect = dialect

    def read(self, resource_id: str) -> tuple[Any, Related | None]:
        """The resource (404 if it is not this connection's) and its related items as
        :meth:`find` gives them; ``resource_id`` is its id or the legacy id an import kept."""
        try:
            found = self.find(resource_key(resource_id), self.shape)
        except (ValidationError, ValueError, TypeError):
            found = None
        if found is None:
            raise NotFound(f"No {self.kind.name} with id {resource_id}.")
        return found

    def find(
        self, key: dict[str, Any], shape: ResponseShape | None
    ) -> tuple[Any, Related | None] | None:
        """The resource of this connection with ``key`` (unique: see
        :meth:`.ResourceKind.find`), or None; with its related items when its kind reads
        them in the same statement and ``shape`` shows them (else None: read them when
        rendering)."""
        kind = self.kind
        with_related = shape is not None and shape.returns(kind.related)
        found = kind.find(self.connection, key, with_related)
        if found is None:
            return None
        obj, rows = found
        obj.connection = self.connection
        return obj, None if rows is None else kind.items_by_owner(rows, self.base_url)

    def single(
        self,
        obj: Any,
        status: int = 200,
        related: Related | None = None,
    ) -> Outcome:
        """The response for ``obj``; ``related`` as :meth:`read` gives it (None: read here)."""
        if related is None and (status != 201 or self.kind.created_with_related):
            related = self.kind.related_for([obj], self.base_url, self.shape)
        document = self.kind.document(
            obj, self.base_url, related.get(obj.id, []) if related is not None else None
        )
        headers = {"ETag": obj.etag}
        if status == 201:
            headers["Location"] = document["meta"]["location"]
        warning = getattr(obj, "warning", "")
        return Outcome(status, self.kind.render(document, self.shape), headers, warning)

    @translate_provisioning_errors
    def create(self, body: Any) -> Outcome:
        document = self.kind.parse(body, self.dialect)
        members = _members("add", body) if self.kind.writes_related else None
        obj = self.kind.create(self.connection, document, members, self.actor)
        return self.single(obj, status=201)

    @translate_provisioning_errors
    def replace(self, resource_id: str, body: Any, if_match: str | None = None) -> Outcome:
        document = self.kind.parse(body, self.dialect)
        members = [_members("replace", body)] if self.kind.writes_related else []
        obj = self.kind.update(
            self.connection,
            resource_id,
            lambda _resource: document,
            members,
            if_match=if_match,
            actor=self.actor,
        )
        return self.single(obj)

    @translate_provisioning_errors
    def patch(
        self, resource_id: str, body: Any, if_match: str | None = None, wants_body: bool = False
    ) -> Outcome:
        operations = self.dialect.patch_operations(body, self.kind.name)
        attribute_ops = operations
        member_changes: list[directory.MemberChange] = []
        if self.kind.writes_related:
            # Member operations are set operations in the database, not a new document.
            attribute_ops, member_changes = split_group_operations(operations, self.dialect)
        build: Build | None = None
        if attribute_ops or not self.kind.writes_related:
            build = partial(self._patched, operations=attribute_ops)
        obj = self.kind.update(
            self.connection,
            resource_id,
            build,
            member_changes,
            if_match=if_match,
            actor=self.actor,
        )
        if wants_body or self.kind.patch_answers_resource:
            return self.single(obj)
        # A group can hold many thousands of members: answer without them.
        return Outcome(204, None, {"ETag": obj.etag})

    @translate_provisioning_errors
    def delete(self, resource_id: str, if_match: str | None = None) -> Outcome:
        self.kind.delete(self.connection, resource_id, if_match=if_match, actor=self.actor)
        return Outcome(204)

    def _patched(self, obj: Any, operations: list[dict[str, Any]]) -> dict[str, Any]:
        """The stored document of ``obj`` with ``operations`` applied by scim2-models."""
        model: Any = self.kind.scim_model()
        with schema.POLICY:
            try:
                resource = model.model_validate(self.kind.document(obj, self.base_url, None))
                patch = PatchOp[model].model_validate(
                    {"schemas": [PATCH_OP], "Operations": operations}
                )
                patch.patch(resource)
            except ModelsScimException as exc:
                raise models_error(exc) from exc
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                raise InvalidValue(f"The PATCH request is not valid: {exc}") from exc
        return self.kind.stored(resource)


# Group members in PATCH


def _members(kind: Any, value: Any) -> directory.MemberChange:
    """A member change from a ``members`` value (see :func:`.members.listed_members`)."""
    listed = listed_members(value)
    displays = tuple((user_id, display) for user_id, display in listed if display is not None)
    return directory.MemberChange(kind, tuple(user_id for user_id, _ in listed), displays)


_MEMBERS_FILTER = re.compile(r"^members\[(?P<filter>.*)\]$", re.IGNORECASE | re.DOTALL)


def split_group_operations(
    operations: list[dict[str, Any]], dialect: Dialect = TOLERANT
) -> tuple[list[dict[str, Any]], list[directory.MemberChange]]:
    """Separate member operations (applied as set operations in the database) from
    operations on the group's other attributes (applied by scim2-models)."""
    attribute_ops: list[dict[str, Any]] = []
    changes: list[directory.MemberChange] = []
    for operation in operations:
        op, path = operation["op"], operation.get("path")
        if not path:
            value = operation.get("value")
            if op in {"add", "replace"} and isinstance(value, dict):
                rest = {k: v for k, v in value.items() if k.lower() != "members"}
                if len(rest) != len(value):
                    changes.append(_members("add" if op == "add" else "replace", value))
                if rest:
                    attribute_ops.append({**operation, "value": rest})
            else:
                attribute_ops.append(operation)
            continue
        bare = path.strip()
        if bare.lower().startswith(GROUP_CORE):
            bare = bare[len(GROUP_CORE) :]
        lowered = bare.lower()
        if lowered == "members":
            if op in {"add", "replace"}:
                changes.append(_members(op, operation.get("value")))
            elif operation.get("value") is not None:
                # A remove with a value removes the members it lists (schema.POLICY),
                # as some IdPs send it: one change for them all, whatever their number.
                changes.append(_members("remove", operation["value"]))
            else:
                changes.append(directory.MemberChange("remove_all"))
        elif lowered.startswith("members["):
            match = _MEMBERS_FILTER.match(bare)
            if match is None or op != "remove":
                raise InvalidPath(f"Unsupported members path {path!r} for '{op}'.")
            ids = [str(v) for v in equal_values(parse(match["filter"], dialect))]
            changes.append(directory.MemberChange("remove", tuple(ids)))
        elif lowered.startswith("members"):
            raise InvalidPath(f"Unsupported members path {path!r}.")
        else:
            attribute_ops.append(operation)
    return attribute_ops, changes
