"""The Notifications page of the Provisioning tab: which emails the signed-in person
receives about this account, and each connection's silent threshold.

Reading and choosing one's own emails need ``read`` provisioning (the emails go to the
readers); a connection's threshold is one of its settings and needs ``create``, changed
through ``update_connection_settings`` so it is an event like the others.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext

from .. import permissions
from ..conf import app_settings
from ..delivery.notifications import opted_out_kinds, set_opt_outs
from ..models import Connection, NotificationKind
from ..provisioning import directory
from .forms import NotificationEmailsForm, SilentThresholdForm
from .views import PortalView


class NotificationSettingsView(PortalView):
    template_name = "scim_portal/portal/notifications.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(**self.page())

    def post(self, request: HttpRequest) -> HttpResponse:
        which = request.POST.get("form", "")
        if which == "emails":
            form = NotificationEmailsForm(request.POST)
            if form.is_valid():
                receive = set(form.cleaned_data["receive"])
                set_opt_outs(request.user, self.account, set(NotificationKind.values) - receive)
                messages.success(request, gettext("Your notification emails were saved."))
                return HttpResponseRedirect(self.url("notifications"))
            return self.render(status=400, **self.page(emails_form=form))
        if which == "threshold":
            self.require(permissions.CREATE)
            connection = self.connection_in_form(request.POST.get("connection", ""))
            threshold = SilentThresholdForm(request.POST, prefix=str(connection.pk))
            if threshold.is_valid():
                directory.update_connection_settings(
                    connection,
                    actor=self.actor,
                    silent_after_hours=threshold.cleaned_data["silent_after_hours"],
                )
                messages.success(
                    request,
                    gettext("Saved the silent threshold of “%(name)s”.")
                    % {"name": connection.name},
                )
                return HttpResponseRedirect(self.url("notifications"))
            return self.render(status=400, **self.page(invalid=threshold, invalid_for=connection))
        return self.render(status=400, **self.page())

    def connection_in_form(self, connection_id: str) -> Connection:
        try:
            return self.get_connection(connection_id)
        except (ValidationError, ValueError):
            raise Http404("No such connection.") from None

    def page(
        self,
        emails_form: NotificationEmailsForm | None = None,
        invalid: SilentThresholdForm | None = None,
        invalid_for: Connection | None = None,
    ) -> dict[str, Any]:
        if emails_form is None:
            off = opted_out_kinds(self.request.user, self.account)
            emails_form = NotificationEmailsForm(
                initial={"receive": [kind for kind in NotificationKind.values if kind not in off]}
            )
        connections = Connection.objects.filter(
            account=self.account, deleting_since__isnull=True
        ).order_by("created_at")
        rows = []
        for connection in connections:
            form = (
                invalid
                if invalid_for is not None and invalid_for.pk == connection.pk
                else SilentThresholdForm(
                    prefix=str(connection.pk),
                    initial={"silent_after_hours": connection.silent_after_hours},
                )
            )
            rows.append((connection, form))
        return {
            "emails_form": emails_form,
            "has_email": bool(getattr(self.request.user, "email", "")),
            "rows": rows,
            "default_silent_hours": int(app_settings.SILENT_CONNECTION_HOURS),
            "notice_days": int(app_settings.CREDENTIAL_EXPIRY_NOTICE_DAYS),
        }
