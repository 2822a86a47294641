"""The drift report of a connection in the management API (``…/connections/<id>/drift/``):
counts and keyset pages of rows, the CSV export, and a fix per row
(:mod:`scim_portal.provisioning.drift`, :mod:`scim_portal.provisioning.reconcile`).

Reading needs ``read`` provisioning; ``reapply``, ``deactivate`` and ``approve`` need
``delete``, ``adopt`` needs ``create`` (an environment key may do anything). A refused
fix is a 409 that says why; a row of another connection or account is a 404.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from .. import permissions
from ..provisioning import drift_csv, reconcile
from ..provisioning.drift import KINDS, PAGE_SIZE, Drift
from ..provisioning.exceptions import HostProvisioningFailed, ResourceNotFound
from .schema import extend_schema
from .views import AccountView

MAX_LIMIT = 500

#: Each fix: the permission it needs, and the request field naming its row.
ACTIONS = {
    "reapply": (permissions.DELETE, "user"),
    "deactivate": (permissions.DELETE, "host_user"),
    "adopt": (permissions.CREATE, "host_user"),
    "approve": (permissions.DELETE, "removal"),
}

# Serializers (the documented shapes; the views answer the report's own documents)


class HostUserSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The application user's primary key.")
    username = serializers.CharField(help_text="The application user's username.")


class RemovalSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The removal's id.")
    kind = serializers.CharField(help_text="deactivate or delete.")
    reason = serializers.CharField(help_text="Why the brake held it, in words.")
    at = serializers.DateTimeField(help_text="When it was held, or rejected.")
    decidedBy = serializers.CharField(
        allow_null=True, help_text="Who rejected it (null: still held)."
    )


class DriftRowSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text=f"One of {', '.join(KINDS)}.")
    id = serializers.UUIDField(allow_null=True, help_text="The directory user's SCIM id.")
    userName = serializers.CharField(
        allow_null=True, help_text="The directory user's userName (null: none)."
    )
    hostUser = HostUserSerializer(allow_null=True, help_text="The application's user (null: none).")
    email = serializers.CharField(help_text="The person's email.")
    directory = serializers.CharField(help_text="What the directory says, in words.")
    host = serializers.CharField(help_text="What the application has, in words.")
    actions = serializers.ListField(
        child=serializers.CharField(),
        help_text=f"The fixes this row offers (POST drift/<action>/): {', '.join(ACTIONS)}.",
    )
    removal = RemovalSerializer(required=False, help_text="Held and rejected rows only.")
    protected = serializers.BooleanField(
        required=False, help_text="Unmanaged rows: staff or superuser, never touched."
    )
    adoptable = serializers.BooleanField(
        required=False, help_text="Unmanaged rows: the email is on a verified domain."
    )


class DriftPageSerializer(serializers.Serializer):
    results = DriftRowSerializer(many=True, help_text="This page's rows.")
    next = serializers.CharField(
        allow_null=True, help_text="Pass as ?after= with ?kind= for the next page."
    )


#: What each kind of drift row is.
KIND_WORDS = {
    "unmanaged": "members of the account no directory user is linked to",
    "membership": "directory users whose membership in the application differs",
    "role": "directory users whose role in the application differs",
    "held": "removals held by the brake",
    "rejected": "removals an admin rejected (the person stays active)",
}


class DriftPagesSerializer(serializers.Serializer):
    unmanaged = DriftPageSerializer(required=False, help_text=f"Rows: {KIND_WORDS['unmanaged']}.")
    membership = DriftPageSerializer(required=False, help_text=f"Rows: {KIND_WORDS['membership']}.")
    role = DriftPageSerializer(required=False, help_text=f"Rows: {KIND_WORDS['role']}.")
    held = DriftPageSerializer(required=False, help_text=f"Rows: {KIND_WORDS['held']}.")
    rejected = DriftPageSerializer(required=False, help_text=f"Rows: {KIND_WORDS['rejected']}.")


class DriftCountsSerializer(serializers.Serializer):
    unmanaged = serializers.IntegerField(help_text=f"How many {KIND_WORDS['unmanaged']}.")
    membership = serializers.IntegerField(help_text=f"How many {KIND_WORDS['membership']}.")
    role = serializers.IntegerField(help_text=f"How many {KIND_WORDS['role']}.")
    held = serializers.IntegerField(help_text=f"How many {KIND_WORDS['held']}.")
    rejected = serializers.IntegerField(help_text=f"How many {KIND_WORDS['rejected']}.")


class DriftReportSerializer(serializers.Serializer):
    connection = serializers.UUIDField(help_text="The connection's id.")
    hostMembershipsKnown = serializers.BooleanField(
        help_text="False when the application's memberships hook has no members(): only held "
        "and rejected rows can be shown."
    )
    counts = DriftCountsSerializer(help_text="Rows of each kind.")
    rows = DriftPagesSerializer(
        help_text="The first page of rows of each kind (with ?kind=, of that kind only)."
    )


class DriftFixSerializer(serializers.Serializer):
    user = serializers.UUIDField(required=False, help_text="reapply: the directory user's id.")
    host_user = serializers.CharField(
        required=False, help_text="deactivate, adopt: the host user's id."
    )
    removal = serializers.IntegerField(required=False, help_text="approve: the removal's id.")


class DriftFixedSerializer(serializers.Serializer):
    action = serializers.CharField(help_text=f"One of {', '.join(ACTIONS)}.")
    id = serializers.UUIDField(allow_null=True, help_text="The directory user's id, if any.")
    userName = serializers.CharField(
        allow_null=True, help_text="The directory user's userName, if any."
    )
    hostUser = serializers.CharField(
        allow_null=True, help_text="The application user's primary key, if any."
    )


# Views


class CsvRenderer(BaseRenderer):
    """Lets a client ask for ``text/csv``; errors are still JSON."""

    media_type = "text/csv"
    format = "csv"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> bytes:
        return json.dumps(data).encode()


class NotFixable(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "not_fixable"


class HostFailed(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "host_failed"


class DriftView(AccountView):
    openapi_tag = "Drift"

    @extend_schema(
        operation_id="get_drift_report",
        summary="Get a connection's drift report",
        description="Where the application and the connection's directory disagree: counts "
        "of every kind of row, and the first page of each. With `kind`, that kind only, from "
        "`after` (the `next` of the page before). Rows are keyset-paged: a page never skips "
        "or repeats a row that stays.",
        parameters=[
            OpenApiParameter(
                "kind", OpenApiTypes.STR, enum=list(KINDS), description="Only this kind of row."
            ),
            OpenApiParameter(
                "after", OpenApiTypes.STR, description="With kind: the `next` of the page before."
            ),
            OpenApiParameter(
                "limit",
                OpenApiTypes.INT,
                description=f"Rows per page ({PAGE_SIZE}, at most {MAX_LIMIT}).",
            ),
        ],
        responses=DriftReportSerializer,
    )
    def get(self, request: Request, account: str, connection_id: str) -> Response:
        params = request.query_params
        kind = params.get("kind") or None
        if kind is not None and kind not in KINDS:
            raise ApiValidationError({"kind": f"One of {', '.join(KINDS)}."})
        after = params.get("after") or None
        if after and kind is None:
            raise ApiValidationError({"after": "Give the kind of rows it is a key of."})
        try:
            limit = int(params.get("limit", PAGE_SIZE))
        except ValueError:
            raise ApiValidationError({"limit": "Must be a whole number."}) from None
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiValidationError({"limit": f"From 1 to {MAX_LIMIT}."})
        report = Drift(self.get_connection())
        try:
            return Response(report.as_json(limit=limit, kind=kind, after=after))
        except ValueError as exc:
            raise ApiValidationError({"after": str(exc)}) from None


class DriftCsvView(AccountView):
    openapi_tag = "Drift"
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(
        operation_id="export_drift_csv",
        summary="Export the drift report as CSV",
        description="Every row of the drift report, of every kind, as a CSV file streamed "
        "as it is read (`Content-Disposition: attachment`). Columns: kind, directory_id, "
        "userName, host_user_id, host_user, email, directory, host, reason.",
        parameters=[
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=["csv", "json"],
                description="How an error is rendered (the report itself is always CSV).",
            )
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request: Request, account: str, connection_id: str) -> StreamingHttpResponse:
        connection = self.get_connection()
        response = StreamingHttpResponse(
            drift_csv.lines(connection), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{drift_csv.filename(connection)}"'
        response["Cache-Control"] = "no-store"
        return response


class DriftFixView(AccountView):
    openapi_tag = "Drift"

    def permission_for(self, request: Request) -> str:
        action = ACTIONS.get(self.kwargs.get("action", ""))
        return action[0] if action and request.method == "POST" else permissions.READ

    @extend_schema(
        operation_id="fix_drift_row",
        summary="Fix one row of the drift report",
        description="`reapply` (a membership or role row: `user`; delete permission), "
        "`deactivate` (an unmanaged member: `host_user`; delete permission), `adopt` (an "
        "unmanaged member on a verified domain: `host_user`; 201 with the new directory user; "
        "create permission) or `approve` (a rejected removal, applied now: `removal`; delete "
        "permission).",
        parameters=[
            OpenApiParameter(
                "action",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=list(ACTIONS),
                description="The fix: reapply, deactivate, adopt or approve.",
            )
        ],
        request=DriftFixSerializer,
        responses={
            200: DriftFixedSerializer,
            201: DriftFixedSerializer,
            409: OpenApiResponse(
                description="The row cannot be fixed that way (staff, linked, not on a "
                "verified domain, waiting for review…): `detail` says why."
            ),
            503: OpenApiResponse(description="The application's adapter failed: nothing changed."),
        },
    )
    def post(self, request: Request, account: str, connection_id: str, action: str) -> Response:
        if action not in ACTIONS:
            raise Http404("No such fix.")
        field = ACTIONS[action][1]
        target = request.data.get(field) if hasattr(request.data, "get") else None
        if target in (None, ""):
            raise ApiValidationError({field: "This field is required."})
        connection, actor = self.get_connection(), self.actor
        try:
            if action == "reapply":
                user = reconcile.reapply(connection, target, actor=actor)
                body = _fixed(action, user.pk, user.user_name, user.host_user_id)
            elif action == "deactivate":
                host = reconcile.deactivate_member(connection, target, actor=actor)
                body = _fixed(action, None, None, host.pk)
            elif action == "adopt":
                user = reconcile.adopt(connection, target, actor=actor)
                body = _fixed(action, user.pk, user.user_name, user.host_user_id)
                return Response(body, status=status.HTTP_201_CREATED)
            else:
                removal = reconcile.approve_rejected(connection, target, actor=actor)
                body = _fixed(action, removal.user_id, removal.user_name, None)
        except ResourceNotFound as exc:
            raise Http404(str(exc)) from None
        except reconcile.CannotFix as exc:
            raise NotFixable(str(exc)) from None
        except HostProvisioningFailed as exc:
            raise HostFailed(str(exc)) from None
        return Response(body)


def _fixed(action: str, user_id: Any, user_name: str | None, host_user: Any) -> dict[str, Any]:
    return {
        "action": action,
        "id": str(user_id) if user_id is not None else None,
        "userName": user_name,
        "hostUser": str(host_user) if host_user is not None else None,
    }
