"""The brake's pages of the Provisioning tab: removals held for review (and those an
admin rejected), deciding them after a dry run, and deleted users kept restorable.

Reading needs ``read`` provisioning; approving, rejecting and restoring need
``delete``. Every decision goes through :mod:`scim_portal.provisioning.safety`, with
the signed-in person as actor.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.utils.translation import gettext, ngettext

from .. import permissions
from .._formats import number
from .._sentences import in_language
from ..models import DeletedUser, DirectoryUser, Removal, RemovalState
from ..provisioning import safety
from ..provisioning.effects import Effects
from ..provisioning.exceptions import HostProvisioningFailed, ResourceNotFound
from .views import PortalView

#: Removals per page of the review page (one page is what a selection can hold).
HELD_PAGE_SIZE = 100
DELETED_PAGE_SIZE = 25
DECISIONS = {"approve": RemovalState.APPROVED, "reject": RemovalState.REJECTED}


def with_people(connection: Any, removals: list[Removal]) -> list[Removal]:
    """``removals`` with the ``host_user`` and ``host_link`` of the directory user each is
    about (the live row, or the kept copy of a deleted one): two statements a page."""
    ids = [removal.user_id for removal in removals]
    people = {
        person.pk: person
        for model in (DirectoryUser, DeletedUser)
        for person in model.objects.filter(connection=connection, pk__in=ids)
        .select_related("host_user")
        .defer("attributes")
    }
    for removal in removals:
        person = people.get(removal.user_id)
        removal.host_user = getattr(person, "host_user", None)  # type: ignore[attr-defined]
        removal.host_link = getattr(person, "host_link", "")  # type: ignore[attr-defined]
    return removals


class HeldView(PortalView):
    """The removals the brake holds, with the dry run of approving them all; the
    rejected ones (``?show=rejected``)."""

    template_name = "scim_portal/portal/held.html"
    tab = "held"

    def get(self, request: HttpRequest) -> HttpResponse:
        assert self.connection is not None
        show = "rejected" if request.GET.get("show") == "rejected" else "held"
        if show == "held":
            rows = safety.held(self.connection)
        else:
            rows = Removal.objects.filter(
                connection=self.connection, state=RemovalState.REJECTED
            ).order_by("-decided_at", "-pk")
        page = Paginator(rows.select_related("decided_by"), HELD_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        with_people(self.connection, list(page))
        newest = safety.held(self.connection).aggregate(newest=Max("pk"))["newest"]
        return self.render(
            page=page,
            show=show,
            preview=safety.preview_approval(self.connection, through=newest),
            through=newest,
            rejected_count=Removal.objects.filter(
                connection=self.connection, state=RemovalState.REJECTED
            ).count(),
        )


class HeldDecideView(PortalView):
    """The confirmation step: GET shows what approving (or rejecting) a selection — or
    every removal held up to ``through`` — changes; POST decides exactly that."""

    permission = permissions.DELETE
    template_name = "scim_portal/portal/held_confirm.html"
    tab = "held"

    def selection(self, data: Any) -> tuple[str, list[int] | None, int | None] | None:
        """``(decision, ids or None for all, through)`` from the query or the form; None
        when it is not one."""
        decision = data.get("decision", "")
        try:
            ids = [int(value) for value in data.getlist("ids")]
            through = int(data["through"]) if data.get("through") else None
        except ValueError:
            return None
        if decision not in DECISIONS or len(ids) > HELD_PAGE_SIZE:
            return None
        if any(not 0 < value <= safety.MAX_REMOVAL_ID for value in [*ids, through or 1]):
            return None
        if data.get("all") == "1":
            return (decision, None, through) if through is not None else None
        return decision, ids, None

    def get(self, request: HttpRequest) -> HttpResponse:
        assert self.connection is not None
        chosen = self.selection(request.GET)
        if chosen is None:
            return HttpResponseBadRequest(gettext("Choose approve or reject, and which removals."))
        decision, ids, through = chosen
        if ids == []:
            messages.warning(request, gettext("Select at least one removal first."))
            return HttpResponseRedirect(self.url("held", self.connection.pk))
        removals = list(safety.held(self.connection, ids, through=through)[:HELD_PAGE_SIZE])
        return self.render(
            decision=decision,
            ids=ids,
            through=through,
            removals=with_people(self.connection, removals),
            preview=safety.preview_approval(self.connection, ids, through=through),
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        self.require(permissions.DELETE)
        assert self.connection is not None
        chosen = self.selection(request.POST)
        if chosen is None or chosen[1] == []:
            return HttpResponseBadRequest(gettext("Choose approve or reject, and which removals."))
        decision, ids, through = chosen
        try:
            done = safety.decide(
                self.connection, DECISIONS[decision], ids, through=through, actor=self.actor
            )
        except HostProvisioningFailed as exc:
            messages.error(request, in_language(str(exc)))
            return HttpResponseRedirect(self.url("held", self.connection.pk))
        if not done.removals:
            messages.warning(
                request,
                gettext("Nothing was decided: those removals were decided or withdrawn meanwhile."),
            )
        elif decision == "approve":
            messages.success(request, approved_message(done))
        else:
            messages.success(
                request,
                ngettext(
                    "Rejected %(count)s removal: that person keeps their access to "
                    "%(account)s, although the identity provider removed them.",
                    "Rejected %(count)s removals: those people keep their access to "
                    "%(account)s, although the identity provider removed them.",
                    done.removals,
                )
                % {"count": number(done.removals), "account": self.account},
            )
        return HttpResponseRedirect(self.url("held", self.connection.pk))


def approved_message(done: Effects) -> str:
    """What an approval changed, in words, in the active language."""
    words = {
        "removals": ngettext("%(count)s removal", "%(count)s removals", done.removals),
        "deactivated": ngettext(
            "%(count)s membership", "%(count)s memberships", done.memberships_deactivated
        ),
        "accounts": ngettext(
            "%(count)s account", "%(count)s accounts", done.host_users_deactivated
        ),
    }
    counts = {
        "removals": done.removals,
        "deactivated": done.memberships_deactivated,
        "accounts": done.host_users_deactivated,
    }
    values = {key: text % {"count": number(counts[key])} for key, text in words.items()}
    values["removed"] = number(done.memberships_removed)
    values["unlinked"] = number(done.unlinked)
    if done.unlinked:
        # Translators: e.g. "Approved 3 removals: 3 memberships deactivated, 0 removed,
        # 2 accounts deactivated, 1 linked to nobody here."
        text = gettext(
            "Approved %(removals)s: %(deactivated)s deactivated, %(removed)s removed, "
            "%(accounts)s deactivated, %(unlinked)s linked to nobody here."
        )
    else:
        # Translators: e.g. "Approved 3 removals: 3 memberships deactivated, 0 removed,
        # 2 accounts deactivated."
        text = gettext(
            "Approved %(removals)s: %(deactivated)s deactivated, %(removed)s removed, "
            "%(accounts)s deactivated."
        )
    return text % values


class DeletedUsersView(PortalView):
    """Deleted users kept restorable, newest first."""

    template_name = "scim_portal/portal/deleted.html"
    tab = "deleted"

    def get(self, request: HttpRequest) -> HttpResponse:
        assert self.connection is not None
        copies = safety.restorable(self.connection).select_related("host_user")
        page = Paginator(copies, DELETED_PAGE_SIZE).get_page(request.GET.get("page"))
        return self.render(page=page)


class RestoreView(PortalView):
    """Restore one deleted user (POST)."""

    def post(self, request: HttpRequest, user_id: Any) -> HttpResponse:
        self.require(permissions.DELETE)
        assert self.connection is not None
        try:
            user = safety.restore(self.connection, user_id, actor=self.actor)
        except ResourceNotFound:
            messages.error(
                request,
                gettext("This deleted user can no longer be restored: its grace period is over."),
            )
        except (safety.CannotRestore, HostProvisioningFailed) as exc:
            messages.error(request, in_language(str(exc)))
        else:
            groups = user.directory_groups.count()
            messages.success(
                request,
                ngettext(
                    "Restored %(user)s with %(count)s group.",
                    "Restored %(user)s with %(count)s groups.",
                    groups,
                )
                % {"user": user.user_name, "count": number(groups)},
            )
        return HttpResponseRedirect(self.url("deleted", self.connection.pk))
