"""The brake in the management API: removals held for review with the dry run of
approving them, deciding them, deleted users kept restorable, and the dry run of
deleting a connection — the same numbers the Provisioning tab shows.

Reading needs ``read`` provisioning (or an environment key); approving, rejecting and
restoring need ``delete``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Max
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from .. import permissions
from ..models import DeletedUser, Removal, RemovalState
from ..provisioning import safety
from ..provisioning.connections import deletion_preview
from ..provisioning.exceptions import HostProvisioningFailed, ResourceNotFound
from .drift import HostFailed
from .pagination import IdCursorPagination
from .schema import extend_schema
from .serializers import DirectoryUserSerializer
from .views import AccountView

#: Removal ids one decision may name (more: decide them all, or in several calls).
MAX_IDS = 1000


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class EffectsSerializer(serializers.Serializer):
    removals = serializers.IntegerField(help_text="Removals decided (or to decide).")
    deactivations = serializers.IntegerField(help_text="Of them, users deactivated.")
    deletions = serializers.IntegerField(help_text="Of them, users deleted.")
    memberships_deactivated = serializers.IntegerField(
        help_text="Memberships deactivated (the deprovision policy “deactivate”)."
    )
    memberships_removed = serializers.IntegerField(
        help_text="Memberships removed (the deprovision policy “remove”)."
    )
    host_users_deactivated = serializers.IntegerField(
        help_text="Accounts this connection manages that lose their last active membership."
    )
    unlinked = serializers.IntegerField(help_text="People linked to nobody: nothing changes.")


class HeldRemovalSerializer(serializers.ModelSerializer):
    # Strings, not enums: enums named kind and state would collide with the credentials'.
    kind = serializers.CharField(read_only=True, help_text="deactivate or delete.")
    state = serializers.CharField(
        read_only=True, help_text="held, rejected, approved, applied or superseded."
    )
    decided_by = serializers.SerializerMethodField(
        help_text="The username of who decided it (null: undecided, or decided by the system)."
    )

    class Meta:
        model = Removal
        fields = [
            "id", "user_id", "user_name", "kind", "state", "reason", "at", "decided_at",
            "decided_by",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": "The removal's id (increasing); approve and reject take it."},
            "user_id": {"help_text": "The directory user's SCIM id."},
            "user_name": {"help_text": "The directory user's userName."},
            "reason": {"help_text": "Why the brake held it, in words."},
            "at": {"help_text": "When the identity provider removed the user."},
            "decided_at": {"help_text": "When it was approved or rejected (null: not yet)."},
        }

    def get_decided_by(self, removal: Removal) -> str | None:
        person = removal.decided_by
        return person.get_username() if person is not None else None


class HeldPageSerializer(serializers.Serializer):
    next = serializers.URLField(
        allow_null=True, help_text="URL of the next page (null on the last): follow it as is."
    )
    previous = serializers.URLField(
        allow_null=True, help_text="URL of the page before (null on the first)."
    )
    results = HeldRemovalSerializer(many=True, help_text="This page's removals, oldest first.")
    preview = EffectsSerializer(help_text="What approving every held removal would change.")
    through = serializers.IntegerField(
        allow_null=True,
        help_text="The newest held removal the preview counts: pass it to approve or reject "
        "to decide exactly what it counted.",
    )


class DecisionSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=safety.MAX_REMOVAL_ID),
        required=False,
        max_length=MAX_IDS,
        help_text="Removal ids; absent: every held removal.",
    )
    through = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=safety.MAX_REMOVAL_ID,
        help_text="Only removals up to this id (the `through` of a preview).",
    )


class DeletedUserSerializer(serializers.ModelSerializer):
    group_count = serializers.SerializerMethodField(
        help_text="The groups it was a member of (restored with it)."
    )

    class Meta:
        model = DeletedUser
        fields = [
            "id", "user_name", "display_name", "email", "external_id", "active", "role",
            "host_user", "group_count", "deleted_at", "purge_after",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": "Its SCIM id (restored under the same id)."},
            "user_name": {"help_text": "Its userName."},
            "display_name": {"help_text": "Its displayName."},
            "email": {"help_text": "Its primary email."},
            "external_id": {"help_text": "The identity provider's own id for it (externalId)."},
            "active": {"help_text": "Whether it was active when deleted."},
            "role": {"help_text": "The role it had in the account."},
            "host_user": {
                "help_text": "The primary key of the application's user it was linked to."
            },
            "deleted_at": {"help_text": "When the identity provider deleted it."},
            "purge_after": {"help_text": "When it can no longer be restored."},
        }

    def get_group_count(self, copy: DeletedUser) -> int:
        return len(copy.groups)


class HostEffectsSerializer(serializers.Serializer):
    memberships_deactivated = serializers.IntegerField(help_text="Memberships deactivated.")
    memberships_removed = serializers.IntegerField(help_text="Memberships removed.")
    host_users_deactivated = serializers.IntegerField(
        help_text="Users the connection manages that lose their last active membership."
    )


class DeletionPreviewSerializer(serializers.Serializer):
    users = serializers.IntegerField(help_text="Directory users deleted.")
    groups = serializers.IntegerField(help_text="Directory groups deleted.")
    deleted_users = serializers.IntegerField(help_text="Deleted users no longer restorable.")
    held_removals = serializers.IntegerField(help_text="Removals held for review.")
    credentials = serializers.IntegerField(help_text="Credentials revoked.")
    remove_directory = HostEffectsSerializer(
        help_text="In the host, with remove_directory=true (the default)."
    )
    keep_directory = HostEffectsSerializer(help_text="In the host, with remove_directory=false.")


def _ids(request: Request) -> list[int] | None:
    """``?ids=1,2`` or ``?ids=1&ids=2`` (None when absent: every held removal)."""
    values = [part for raw in request.query_params.getlist("ids") for part in raw.split(",")]
    if not values:
        return None
    try:
        ids = [int(value) for value in values if value.strip()]
    except ValueError:
        raise ApiValidationError({"ids": "Removal ids are whole numbers."}) from None
    if len(ids) > MAX_IDS:
        raise ApiValidationError({"ids": f"At most {MAX_IDS} at once."})
    if any(not 0 < value <= safety.MAX_REMOVAL_ID for value in ids):
        raise ApiValidationError({"ids": "Removal ids are whole numbers from 1."})
    return ids


class HeldView(AccountView, generics.GenericAPIView):
    openapi_tag = "Removals"
    pagination_class = IdCursorPagination
    serializer_class = HeldRemovalSerializer

    @extend_schema(
        operation_id="list_held_removals",
        summary="List removals held for review",
        description="When the identity provider removes many people at once, the brake holds "
        "the effects in the application until someone decides. This lists the held removals "
        "(or, with `state=rejected`, those an admin rejected), oldest first, cursor-paged, "
        "with `preview` (what approving every held one would change in the application) and "
        "`through` (the newest held removal that preview counts).",
        parameters=[
            OpenApiParameter(
                "state",
                OpenApiTypes.STR,
                enum=["held", "rejected"],
                description="held (the default) or rejected.",
            ),
        ],
        responses=HeldPageSerializer,
    )
    def get(self, request: Request, account: str, connection_id: str) -> Response:
        connection = self.get_connection()
        state = request.query_params.get("state", "held")
        if state not in {"held", "rejected"}:
            raise ApiValidationError({"state": "Use held or rejected."})
        rows = Removal.objects.filter(connection=connection, state=state).select_related(
            "decided_by"
        )
        page = self.paginate_queryset(rows)
        response = self.get_paginated_response(HeldRemovalSerializer(page, many=True).data)
        through = safety.held(connection).aggregate(newest=Max("pk"))["newest"]
        response.data["preview"] = safety.preview_approval(connection, through=through).as_json()
        response.data["through"] = through
        return response


class HeldPreviewView(AccountView):
    openapi_tag = "Removals"

    @extend_schema(
        operation_id="preview_held_removals",
        summary="Dry run of approving held removals",
        description="Exactly what approving these removals (every held one without `ids`) "
        "would change in the application; nothing is written. Pass the same `ids` and "
        "`through` to approve_held_removals to apply exactly what was counted.",
        parameters=[
            OpenApiParameter(
                "ids", OpenApiTypes.STR, description="Removal ids, comma-separated (at most 1,000)."
            ),
            OpenApiParameter(
                "through", OpenApiTypes.INT, description="Only removals up to this id."
            ),
        ],
        responses=EffectsSerializer,
    )
    def get(self, request: Request, account: str, connection_id: str) -> Response:
        connection = self.get_connection()
        through = request.query_params.get("through")
        if through is not None and not (
            through.isdecimal() and 0 < int(through) <= safety.MAX_REMOVAL_ID
        ):
            raise ApiValidationError({"through": "A removal id."})
        effects = safety.preview_approval(
            connection, _ids(request), through=int(through) if through else None
        )
        return Response(effects.as_json())


class HeldDecideView(AccountView):
    openapi_tag = "Removals"
    write_permission = {"POST": permissions.DELETE}
    #: Set per URL: approve or reject.
    decision: RemovalState = RemovalState.APPROVED

    def post(self, request: Request, account: str, connection_id: str) -> Response:
        connection = self.get_connection()
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            done = safety.decide(
                connection,
                self.decision,
                body.validated_data.get("ids"),
                through=body.validated_data.get("through"),
                actor=self.actor,
            )
        except HostProvisioningFailed as exc:
            raise HostFailed(str(exc)) from None
        return Response(done.as_json())


class HeldApproveView(HeldDecideView):
    decision = RemovalState.APPROVED

    @extend_schema(
        operation_id="approve_held_removals",
        summary="Approve held removals",
        description="Their effects in the application happen now, in one transaction. Without "
        "`ids`, every held removal (up to `through` when given: pass a preview's `through`). "
        "Answers the numbers applied, which equal the preview's. Needs the delete "
        "provisioning permission.",
        request=DecisionSerializer,
        responses={
            200: EffectsSerializer,
            503: OpenApiResponse(
                description="The application's adapter failed: nothing was applied."
            ),
        },
    )
    def post(self, request: Request, account: str, connection_id: str) -> Response:
        return super().post(request, account, connection_id)


class HeldRejectView(HeldDecideView):
    decision = RemovalState.REJECTED

    @extend_schema(
        operation_id="reject_held_removals",
        summary="Reject held removals",
        description="The people stay active in the application, diverging from the "
        "directory. Without `ids`, every held removal (up to `through`). Answers how many "
        "were rejected (`removals`; nothing changes in the application). Needs the delete "
        "provisioning permission.",
        request=DecisionSerializer,
        responses=EffectsSerializer,
    )
    def post(self, request: Request, account: str, connection_id: str) -> Response:
        return super().post(request, account, connection_id)


class DeletedUsersView(AccountView, generics.GenericAPIView):
    openapi_tag = "Removals"
    pagination_class = IdCursorPagination
    serializer_class = DeletedUserSerializer

    @extend_schema(
        operation_id="list_deleted_users",
        summary="List deleted users that can still be restored",
        description="Users the identity provider deleted within the grace period "
        "(`purge_after`), cursor-paged: each can be restored as it was.",
        responses=DeletedUserSerializer(many=True),
    )
    def get(self, request: Request, account: str, connection_id: str) -> Response:
        page = self.paginate_queryset(safety.restorable(self.get_connection()))
        return self.get_paginated_response(DeletedUserSerializer(page, many=True).data)


class RestoreView(AccountView):
    openapi_tag = "Removals"
    write_permission = {"POST": permissions.DELETE}

    @extend_schema(
        operation_id="restore_deleted_user",
        summary="Restore a deleted user",
        description="Its directory entry (same id), groups, role and membership in the "
        "application come back as they were. 404 past the grace period. Needs the delete "
        "provisioning permission.",
        request=None,
        responses={
            200: DirectoryUserSerializer,
            409: OpenApiResponse(
                description="The identity provider has since created the same userName, or "
                "linked its person again."
            ),
            503: OpenApiResponse(
                description="The application's adapter failed: nothing was restored."
            ),
        },
    )
    def post(self, request: Request, account: str, connection_id: str, user_id: Any) -> Response:
        connection = self.get_connection()
        try:
            user = safety.restore(connection, user_id, actor=self.actor)
        except ResourceNotFound as exc:
            raise Http404(str(exc)) from exc
        except safety.CannotRestore as exc:
            raise Conflict(str(exc)) from exc
        except HostProvisioningFailed as exc:
            raise HostFailed(str(exc)) from None
        return Response(DirectoryUserSerializer(user).data)


class DeletionPreviewView(AccountView):
    openapi_tag = "Connections"

    @extend_schema(
        operation_id="preview_connection_deletion",
        summary="Dry run of deleting a connection",
        description="Exactly what deleting the connection would change: in its directory, "
        "and in the application for both values of delete_connection's `remove_directory`. "
        "Nothing is written.",
        responses=DeletionPreviewSerializer,
    )
    def get(self, request: Request, account: str, connection_id: str) -> Response:
        return Response(deletion_preview(self.get_connection()))
