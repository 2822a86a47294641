"""The Drift page of a connection: where the application and the directory disagree
(:mod:`scim_portal.provisioning.drift`), with a fix per row and the CSV export.

Reading needs ``read`` provisioning; re-applying, deactivating a member and approving
a rejected removal ``delete``; adopting a member ``create``. The page reads a fixed
number of statements whatever the size of the directory: a count per kind and one
keyset page of the kind shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import StreamingHttpResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import permissions
from .._sentences import in_language
from ..provisioning import drift_csv, reconcile
from ..provisioning.drift import KINDS, PAGE_SIZE, Drift, DriftRow
from ..provisioning.exceptions import HostProvisioningFailed, ResourceNotFound
from .views import PortalView


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    help: str


def kinds(account: Any) -> dict[str, Kind]:
    """What each kind of row is called on the page, and what it means, in the active
    language."""
    named = {"account": account}
    return {
        kind.key: kind
        for kind in (
            Kind("unmanaged", gettext("Not in the directory"),
                 gettext("Active members of %(account)s whom no user of its connections "
                         "stands for: they kept access the identity provider does not know "
                         "about.") % named),
            Kind("membership", gettext("Membership"),
                 gettext("Linked people whose membership of %(account)s is missing, or not "
                         "as active as the directory says.") % named),
            Kind("role", gettext("Role"),
                 gettext("Linked people whose role in %(account)s is not the one the "
                         "directory's role mappings give.") % named),
            Kind("held", gettext("Held removals"),
                 gettext("Deactivations and deletions the brake on mass removals holds: "
                         "nothing changed in the application yet, and they wait for a "
                         "decision.")),
            Kind("rejected", gettext("Rejected removals"),
                 gettext("Removals an admin rejected: these people stay active though the "
                         "directory deactivated or deleted them.")),
        )
    }  # fmt: skip


#: Each action: the permission it needs, its button label, its accessible name (the
#: label with the person: ``%(person)s`` is a username or email) and the row field it targets.
ACTIONS = {
    # Translators: a button of the Drift page: make this person's access follow the directory.
    "reapply": (permissions.DELETE, _("Re-apply"), _("Re-apply %(person)s"), "directory_user_id"),
    # Translators: a button of the Drift page: deactivate this person's membership.
    "deactivate": (permissions.DELETE, _("Deactivate"), _("Deactivate %(person)s"), "host_user_id"),
    # Translators: a button of the Drift page: make this member a user of the connection.
    "adopt": (permissions.CREATE, _("Adopt"), _("Adopt %(person)s"), "host_user_id"),
    "approve": (permissions.DELETE, _("Approve removal"), _("Approve the removal of %(person)s"),
                "removal_id"),
}  # fmt: skip
CAN = {permissions.READ: "read", permissions.CREATE: "create", permissions.DELETE: "delete"}


class DriftView(PortalView):
    template_name = "scim_portal/portal/drift.html"
    tab = "drift"
    page_size = PAGE_SIZE

    def get(self, request: HttpRequest) -> HttpResponse:
        assert self.connection is not None
        report = Drift(self.connection)
        counts = report.counts()
        kind = request.GET.get("kind", "")
        if kind not in KINDS:
            kind = next((name for name in KINDS if counts[name]), KINDS[0])
        after = request.GET.get("after") or None
        try:
            page = report.page(kind, after, self.page_size)
        except ValueError:
            raise Http404("No such page.") from None
        described = kinds(self.account)
        return self.render(
            known=report.known,
            kind=kind,
            current=described[kind],
            tabs=[(described[name], counts[name]) for name in KINDS],
            total=sum(counts.values()),
            rows=[(row, self.buttons(row)) for row in page.rows],
            next_after=page.next_after,
            after=after,
        )

    def buttons(self, row: DriftRow) -> list[tuple[str, str, str, Any]]:
        """``(action, label, accessible name, target)`` of the fixes this person may make
        to ``row``."""
        shown = []
        person = row.user_name or row.host_username
        for action in row.actions:
            needed, label, name, target = ACTIONS[action]
            if action == "deactivate" and row.host_user_id == self.request.user.pk:
                continue  # refused: one's own membership (reconcile.deactivate_member)
            if self.can[CAN[needed]]:
                shown.append((action, str(label), str(name) % {"person": person},
                              getattr(row, target)))  # fmt: skip
        return shown


class DriftCsvView(PortalView):
    def get(self, request: HttpRequest) -> StreamingHttpResponse:
        assert self.connection is not None
        return csv_response(self.connection)


def csv_response(connection: Any) -> StreamingHttpResponse:
    """Every row of the drift report as a CSV download, written as it is read."""
    response = StreamingHttpResponse(
        drift_csv.lines(connection), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{drift_csv.filename(connection)}"'
    response["Cache-Control"] = "no-store"
    return response


class DriftActionView(PortalView):
    """POST a fix of one row: ``target`` is the id the action needs (the directory
    user's, the host user's, or the removal's); back to the page it came from."""

    def post(self, request: HttpRequest, action: str) -> HttpResponse:
        assert self.connection is not None
        if action not in ACTIONS:
            raise Http404("No such action.")
        self.require(ACTIONS[action][0])
        target = request.POST.get("target", "")
        try:
            text = self.fix(action, target)
        except ResourceNotFound as exc:
            raise Http404(str(exc)) from None
        except (reconcile.CannotFix, HostProvisioningFailed) as exc:
            messages.error(request, in_language(str(exc)))
        else:
            messages.success(request, text)
        kind = request.POST.get("kind", "")
        query = {"kind": kind} if kind in KINDS else {}
        if query and request.POST.get("after"):
            query["after"] = request.POST["after"]
        url = self.url("drift", self.connection.pk)
        return HttpResponseRedirect(f"{url}?{urlencode(query)}" if query else url)

    def fix(self, action: str, target: str) -> str:
        """Apply ``action`` to ``target``; what happened, in words."""
        assert self.connection is not None
        connection, actor = self.connection, self.actor
        if action == "reapply":
            user = reconcile.reapply(connection, target, actor=actor)
            return gettext("%(user)s's membership now follows the directory.") % {
                "user": user.user_name
            }
        if action == "deactivate":
            host = reconcile.deactivate_member(connection, target, actor=actor)
            return gettext("%(user)s's membership of %(account)s was deactivated.") % {
                "user": host.get_username(),
                "account": self.account,
            }
        if action == "adopt":
            user = reconcile.adopt(connection, target, actor=actor)
            return gettext(
                "%(user)s is now a user of this connection; %(provider)s finds them by "
                "userName on its next sync."
            ) % {"user": user.user_name, "provider": connection.provider_info.name}
        removal = reconcile.approve_rejected(connection, target, actor=actor)
        return gettext("The removal of %(user)s was approved and applied.") % {
            "user": removal.user_name
        }
