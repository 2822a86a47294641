"""Users and Groups as SCIM resources: parsing what IdPs send, rendering what we return.

Input is normalised (:mod:`.providers`), validated by scim2-models under the
service's tolerant policy, and stored as the document the IdP wrote. Output is
the stored document plus ``id``, ``meta`` and the memberships, serialised by
scim2-models for a query response, honouring ``attributes`` and
``excludedAttributes``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

from pydantic import ValidationError
from scim2_models import Context, ResponseParameters, Returned
from scim2_models import SCIMException as ModelsScimException

from ..models import Connection, DirectoryGroup, DirectoryUser, GroupMembership
from ..models.indexed import GROUP_COLUMNS, USER_COLUMNS, IndexedColumns
from ..provisioning import directory
from ..provisioning.events import Actor
from . import exceptions, redaction, schema
from .filters import Membership, QueryBuilder
from .providers import TOLERANT, Dialect, ResourceInfo

#: Set by the server or kept in their own tables, not in the stored document.
SCHEMA_KEYS_DROPPED_ON_STORE = {"id", "meta", "groups", "members"}


def _error_summary(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        location = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
        parts.append(f"{location}: {error['msg']}" if location else error["msg"])
    return "; ".join(parts)


def models_error(exc: ModelsScimException) -> exceptions.ScimError:
    """A scim2-models exception as one of ours (same status and scimType)."""
    return exceptions.ScimError(str(exc), status_code=exc.status, scim_type=exc.scim_type or None)


def iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z")


class ResponseShape:
    """``attributes`` / ``excludedAttributes`` of a request."""

    def __init__(self, attributes: Sequence[str] = (), excluded: Sequence[str] = ()) -> None:
        self.attributes = [a.strip() for a in attributes if a.strip()]
        self.excluded = [a.strip() for a in excluded if a.strip()]
        self.parameters: ResponseParameters[Any] | None = None
        if not self.attributes and not self.excluded:
            return
        try:
            self.parameters = ResponseParameters.model_validate(
                {"attributes": self.attributes or None,
                 "excludedAttributes": self.excluded or None}
            )  # fmt: skip
        except (ValidationError, ModelsScimException, ValueError) as exc:
            raise exceptions.InvalidValue(f"Invalid attributes parameter: {exc}") from exc

    @classmethod
    def from_query(cls, query: Any) -> ResponseShape:
        def split(name: str) -> list[str]:
            return [p for value in query.getlist(name) for p in value.split(",")]

        return cls(split("attributes"), split("excludedAttributes"))

    def returns(self, attribute: str) -> bool:
        """Whether the response carries ``attribute`` (a top-level name)."""
        name = attribute.lower()

        def names(paths: list[str]) -> set[str]:
            heads = set()
            for path in paths:
                lowered = path.lower()
                for prefix in ("urn:ietf:params:scim:schemas:core:2.0:user:",
                               "urn:ietf:params:scim:schemas:core:2.0:group:"):  # fmt: skip
                    lowered = lowered.removeprefix(prefix)
                heads.add(lowered.split(".")[0].split("[")[0])
            return heads

        if self.attributes:
            return name in names(self.attributes)
        return name not in names(self.excluded)


#: Related items (a user's groups, a group's members) by the id of their owner.
Related = dict[Any, list[dict[str, Any]]]
#: Membership rows of related items: the owner's id, the item's id, then the names its
#: ``display`` is taken from (the first that is set).
Rows = list[tuple[Any, ...]]
#: Builds the new document of a resource from the resource (row-locked).
Build = Callable[[Any], dict[str, Any]]


class ResourceKind:
    """What differs between the two resource types."""

    name: str
    endpoint: str
    model_class: type[DirectoryUser] | type[DirectoryGroup]
    required: str
    #: The attribute holding the related items: a user's "groups", a group's "members".
    related: str
    #: Where a related item lives (its ``$ref``) and its SCIM ``type``.
    item_endpoint: str
    item_type: str
    #: The attributes kept in indexed columns, for filters and sorting.
    columns: IndexedColumns
    #: The related items as filters reach them.
    membership: Membership
    #: Whether filters on multi-valued attributes read the items' rows (a user's).
    item_rows: bool = False
    #: Read-only attributes an IdP may send anyway, dropped from its input.
    ignored_on_input: frozenset[str] = frozenset()
    #: Whether the related items are written through this resource, from a POST or PUT
    #: body's ``members`` and PATCH operations on them (a group's members); a user's
    #: groups are read-only.
    writes_related: bool = False
    #: Whether a PATCH is answered with the resource (else 204, unless ``attributes`` or
    #: ``excludedAttributes`` ask for it: a group can hold many thousands of members).
    patch_answers_resource: bool = True
    #: Whether a resource just created can have related items (a group created with
    #: members); a new user belongs to no group, and its response reads none.
    created_with_related: bool = True

    def scim_model(self) -> Any:
        raise NotImplementedError

    def query_builder(self) -> QueryBuilder:
        return _query_builder(self, self.scim_model())

    def item(self, base_url: str, item_id: Any, *names: Any) -> dict[str, Any]:
        """One related item (a user's group or a group's member) in SCIM form."""
        return {
            "value": str(item_id),
            "display": next((name for name in names if name), names[-1]),
            "$ref": f"{base_url}/{self.item_endpoint}/{item_id}",
            "type": self.item_type,
        }

    def queryset(self, connection: Connection) -> Any:
        return self.model_class.objects.filter(connection=connection)

    # Reads

    def find(
        self, connection: Connection, key: dict[str, Any], with_related: bool
    ) -> tuple[Any, Rows | None] | None:
        """The resource of ``connection`` with the unique ``key`` (``id``, or a folded
        name key), or None; with its related rows when ``with_related`` and this kind
        reads them in the same statement (else None: read them when rendering)."""
        obj = self.model_class.objects.one(connection.pk, **key)
        return None if obj is None else (obj, None)

    def related_rows(self, ids: Sequence[Any]) -> Rows:
        """Membership rows of the related items of the resources ``ids``, one query."""
        raise NotImplementedError

    # Writes (one transaction each, through the provisioning services)

    def create(
        self,
        connection: Connection,
        document: dict[str, Any],
        members: directory.MemberChange | None,
        actor: Actor,
    ) -> Any:
        """Create a resource; ``members`` as the body gives them (when
        :attr:`writes_related`)."""
        raise NotImplementedError

    def update(
        self,
        connection: Connection,
        resource_id: str,
        build: Build | None,
        member_changes: list[directory.MemberChange],
        *,
        if_match: str | None,
        actor: Actor,
    ) -> Any:
        """Replace the document by ``build(resource)`` (None: keep it) and apply
        ``member_changes`` (when :attr:`writes_related`), atomically."""
        raise NotImplementedError

    def delete(
        self, connection: Connection, resource_id: str, *, if_match: str | None, actor: Actor
    ) -> None:
        raise NotImplementedError

    # Input

    def parse(self, body: Any, dialect: Dialect = TOLERANT) -> dict[str, Any]:
        """The document to store for a POST/PUT body as ``dialect`` reads it; SCIM
        errors for bad input."""
        model = self.scim_model()
        multi_valued = frozenset(
            (field.serialization_alias or name).lower()
            for name, field in model.model_fields.items()
            if _is_list(field.annotation)
        )
        document = dialect.resource(
            body, ResourceInfo(self.name, multi_valued, self.ignored_on_input)
        )
        try:
            with schema.POLICY:
                resource = model.model_validate(document)
        except ValidationError as exc:
            raise exceptions.InvalidValue(_error_summary(exc)) from exc
        except ModelsScimException as exc:
            raise models_error(exc) from exc
        return self.stored(resource)

    def stored(self, resource: Any) -> dict[str, Any]:
        """The storage form of a validated resource: never its secrets (``writeOnly`` or
        ``returned: never`` attributes, such as ``password``), whatever the dump keeps."""
        with schema.POLICY:
            document = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        document = redaction.without_secrets(document, self.name)
        for key in SCHEMA_KEYS_DROPPED_ON_STORE:
            document.pop(key, None)
        document = _without_empty(document)
        known = {str(self.scim_model().__schema__)} | {
            key for key in document if key.lower().startswith("urn:")
        }
        document["schemas"] = [s for s in document.get("schemas", []) if s in known]
        value = document.get(self.required)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise exceptions.InvalidValue(f"'{self.required}' is required.")
        return document

    # Output

    def document(self, obj: Any, base_url: str, related: list[dict[str, Any]] | None) -> dict:
        document = dict(obj.attributes)
        document.setdefault("schemas", [str(self.scim_model().__schema__)])
        document["id"] = str(obj.id)
        document["meta"] = {
            "resourceType": self.name,
            "created": iso(obj.created),
            "lastModified": iso(obj.last_modified),
            "location": f"{base_url}/{self.endpoint}/{obj.id}",
            "version": obj.etag,
        }
        if related:  # an empty multi-valued attribute is unassigned: absent
            document[self.related] = related
        return document

    def render(self, document: dict[str, Any], shape: ResponseShape) -> dict[str, Any]:
        """``document`` as the response carries it, honouring ``shape``.

        The stored document is scim2-models' query-response serialisation, made when the
        resource was written; id, meta and memberships are built in that form. So with no
        ``attributes``/``excludedAttributes`` it is the answer as it is, and excluding a
        top-level attribute returned by default (``excludedAttributes=members``, as Okta
        and Entra send on every group read) only removes its key. Anything else goes
        through scim2-models (tests/scim/test_rendering.py checks the paths agree).
        """
        if not shape.attributes and not shape.excluded:
            return document
        dropped = self._simply_dropped(shape)
        if dropped is not None:
            return {key: value for key, value in document.items() if key.lower() not in dropped}
        return self.render_with_models(document, shape)

    def _simply_dropped(self, shape: ResponseShape) -> frozenset[str] | None:
        """Lowercased names ``shape`` excludes, when it only excludes top-level attributes
        returned by default; otherwise None."""
        if shape.attributes:
            return None
        model = self.scim_model()
        core = f"{model.__schema__}:".lower()
        droppable = _droppable(model)
        names = frozenset(path.lower().removeprefix(core) for path in shape.excluded)
        return names if names <= droppable else None

    def render_with_models(self, document: dict[str, Any], shape: ResponseShape) -> dict[str, Any]:
        """``render`` by validating ``document`` with scim2-models and dumping it for ``shape``."""
        with schema.POLICY:
            resource = self.scim_model().model_validate(document)
            return resource.model_dump(  # type: ignore[no-any-return]
                scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=shape.parameters
            )

    def related_for(
        self, objs: Sequence[Any], base_url: str, shape: ResponseShape
    ) -> Related | None:
        """Memberships of ``objs`` in one query, or None when the response omits them."""
        if not shape.returns(self.related):
            return None
        return self.items_by_owner(self.related_rows([obj.id for obj in objs]), base_url)

    def items_by_owner(self, rows: Iterable[Sequence[Any]], base_url: str) -> Related:
        """Membership rows (:meth:`related_rows`) as related items, by owner."""
        grouped: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        # A group is an item of many users: build each distinct item once. The key is the
        # whole row but its owner (a member's display is stored per membership).
        items: dict[tuple[Any, ...], dict[str, Any]] = {}
        for owner, *columns in rows:
            key = tuple(columns)
            item = items.get(key)
            if item is None:
                item = items[key] = self.item(base_url, *columns)
            grouped[owner].append(item)
        return grouped

    def render_many(
        self,
        objs: Sequence[Any],
        base_url: str,
        shape: ResponseShape,
        related: Related | None = None,
    ) -> list[dict[str, Any]]:
        """``objs`` rendered for ``shape``, with ``related`` items (None: read them here)."""
        if related is None:
            related = self.related_for(objs, base_url, shape)
        return [
            self.render(
                self.document(
                    obj, base_url, related.get(obj.id, []) if related is not None else None
                ),
                shape,
            )
            for obj in objs
        ]


def _without_empty(value: Any) -> Any:
    """``value`` without empty objects and lists: in SCIM, empty is unassigned."""
    if isinstance(value, dict):
        cleaned = {key: _without_empty(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if item not in ({}, [], None)}
    if isinstance(value, list):
        return [item for item in (_without_empty(v) for v in value) if item not in ({}, None)]
    return value


@cache
def _droppable(model: Any) -> frozenset[str]:
    """Lowercased top-level attributes of ``model`` that are returned by default, but for
    ``schemas`` and ``meta``: excluding one of them only removes its key."""
    return frozenset(
        (field.serialization_alias or name).lower()
        for name, field in model.model_fields.items()
        if name not in {"schemas", "meta"}
        and model.get_field_annotation(name, Returned) == Returned.default
        and ":" not in (field.serialization_alias or name)
    )


@cache
def _query_builder(kind: ResourceKind, model: Any) -> QueryBuilder:
    """Builders hold no request state: one per resource type and model (the model changes
    when the extension settings do, so a new one is built then)."""
    return QueryBuilder(kind.columns, kind.membership, model, item_rows=kind.item_rows)


def _is_list(annotation: Any) -> bool:
    return "list[" in str(annotation)


class UserKind(ResourceKind):
    name = "User"
    endpoint = "Users"
    model_class = DirectoryUser
    required = "userName"
    related = "groups"
    item_endpoint, item_type = "Groups", "direct"
    columns = USER_COLUMNS
    membership = Membership("groups", owner="user", item="group_id")
    item_rows = True
    ignored_on_input = frozenset({"groups"})
    created_with_related = False

    def scim_model(self) -> Any:
        return schema.user_model()

    def find(
        self, connection: Connection, key: dict[str, Any], with_related: bool
    ) -> tuple[Any, Rows | None] | None:
        # A user's groups are few: read in the same statement when they are shown (a
        # group's members would repeat the group's row once each).
        if not with_related:
            return super().find(connection, key, with_related)
        return DirectoryUser.objects.one_with_groups(connection.pk, **key)

    def related_rows(self, ids: Sequence[Any]) -> Rows:
        return GroupMembership.objects.groups_of(ids)

    def create(
        self,
        connection: Connection,
        document: dict[str, Any],
        members: directory.MemberChange | None,
        actor: Actor,
    ) -> Any:
        return directory.create_user(connection, document, actor=actor)

    def update(
        self,
        connection: Connection,
        resource_id: str,
        build: Build | None,
        member_changes: list[directory.MemberChange],
        *,
        if_match: str | None,
        actor: Actor,
    ) -> Any:
        assert build is not None and not member_changes
        user, _ = directory.update_user(
            connection, resource_id, build, if_match=if_match, actor=actor
        )
        return user

    def delete(
        self, connection: Connection, resource_id: str, *, if_match: str | None, actor: Actor
    ) -> None:
        directory.delete_user(connection, resource_id, if_match=if_match, actor=actor)


class GroupKind(ResourceKind):
    name = "Group"
    endpoint = "Groups"
    model_class = DirectoryGroup
    required = "displayName"
    related = "members"
    item_endpoint, item_type = "Users", "User"
    columns = GROUP_COLUMNS
    membership = Membership("members", owner="group", item="user_id")
    writes_related = True
    patch_answers_resource = False

    def scim_model(self) -> Any:
        return schema.group_model()

    def related_rows(self, ids: Sequence[Any]) -> Rows:
        return GroupMembership.objects.members_of(ids)

    def create(
        self,
        connection: Connection,
        document: dict[str, Any],
        members: directory.MemberChange | None,
        actor: Actor,
    ) -> Any:
        return directory.create_group(connection, document, members, actor=actor)

    def update(
        self,
        connection: Connection,
        resource_id: str,
        build: Build | None,
        member_changes: list[directory.MemberChange],
        *,
        if_match: str | None,
        actor: Actor,
    ) -> Any:
        group, _ = directory.update_group(
            connection, resource_id, build, member_changes, if_match=if_match, actor=actor
        )
        return group

    def delete(
        self, connection: Connection, resource_id: str, *, if_match: str | None, actor: Actor
    ) -> None:
        directory.delete_group(connection, resource_id, if_match=if_match, actor=actor)


USERS = UserKind()
GROUPS = GroupKind()
