"""Django admin for event delivery: webhook endpoints and their delivery log.

Every change goes through the service functions of :mod:`scim_portal.delivery.endpoints`
(which write the ``scim_portal.audit`` lines), never through the models; each is also a
Django admin log entry. An endpoint's secret is shown once, on the page that creates or
rotates it (the admin's pages are never cached), and afterwards only its prefix and
expiry. Rotating, testing, pausing, resuming and replaying need the change permission on
webhook endpoints; the delivery log is read-only for everyone.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .admin import ReadOnlyAdmin, admin_page
from .conf import app_settings
from .delivery import endpoints
from .delivery.endpoints import with_backlog
from .models import (
    Connection,
    DeliveryAttempt,
    DeliveryMethod,
    DeliveryStream,
    EndpointFormat,
    EndpointState,
    WebhookEndpoint,
)

#: Delivery log rows shown on an endpoint's page (the rest: its filtered log).
RECENT_ATTEMPTS = 10


def event_type_field(**kwargs: Any) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        choices=[(value, value) for value in endpoints.EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=_("Event types"),
        help_text=_("None ticked: every event type, including types added later."),
        **kwargs,
    )


class EndpointAddForm(forms.ModelForm):
    url = forms.CharField(
        max_length=2000,
        required=False,
        label=_("URL"),
        help_text=_("https and a public address (empty for a polled SET endpoint)."),
        widget=forms.TextInput(attrs={"class": "vLargeTextField"}),
    )
    event_types = event_type_field()

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "format", "method", "account", "event_types", "description"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].help_text = gettext(
            "Only this account's events (empty: every account's)."
        )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        method = cleaned.get("method")
        if method == DeliveryMethod.POLL:
            if cleaned.get("format") != EndpointFormat.SET:
                self.add_error("method", gettext("Only SET endpoints can be polled (RFC 8936)."))
            if cleaned.get("url"):
                self.add_error(
                    "url", gettext("A polled endpoint has no URL: the receiver calls us.")
                )
        elif method == DeliveryMethod.PUSH:
            try:
                endpoints.validate_url(cleaned.get("url", ""))
            except ValidationError as exc:
                self.add_error("url", exc.messages[0])
        return cleaned

    def _post_clean(self) -> None:
        pass  # the service validates and writes; the model instance is never saved here


class EndpointChangeForm(forms.ModelForm):
    url = forms.CharField(
        max_length=2000,
        label=_("URL"),
        widget=forms.TextInput(attrs={"class": "vLargeTextField"}),
    )
    event_types = event_type_field()

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "event_types", "description"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.method == DeliveryMethod.POLL:
            del self.fields["url"]

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        try:
            endpoints.validate_url(url)
        except ValidationError as exc:
            raise ValidationError(exc.messages[0]) from None
        return url

    def _post_clean(self) -> None:
        pass


class RotateSecretForm(forms.Form):
    overlap_hours = forms.FloatField(
        min_value=0,
        max_value=24 * 30,
        label=_("Overlap hours"),
        help_text=_(
            "How long the current secret keeps signing beside the new one (0: it stops "
            "now). Receivers verify with either meanwhile."
        ),
    )


class ConnectionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return gettext("%(name)s (%(account)s, last event #%(number)s)") % {
            "name": obj.name, "account": obj.account, "number": obj.last_event_number,
        }  # fmt: skip


class ReplayForm(forms.Form):
    connection = ConnectionChoiceField(label=_("Connection"), queryset=Connection.objects.none())
    from_number = forms.IntegerField(
        min_value=1,
        label=_("From event number"),
        help_text=_(
            "This event and every later one of the connection are delivered again, in "
            "order, with their original webhook-id."
        ),
    )

    def __init__(self, *args: Any, endpoint: WebhookEndpoint, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        connections = Connection.objects.select_related("account").order_by("name")
        if endpoint.account_id is not None:
            connections = connections.filter(account_id=endpoint.account_id)
        self.fields["connection"].queryset = connections  # type: ignore[attr-defined]


def _attempt_cells(attempt: DeliveryAttempt) -> tuple[Any, ...]:
    at = timezone.localtime(attempt.created_at)
    return (
        f"{date_format(at, 'SHORT_DATE_FORMAT')} {time_format(at, 'H:i:s')}",
        attempt.get_outcome_display(),
        attempt.event_type,
        f"#{attempt.event_number}" if attempt.event_number else "",
        attempt.status_code or "",
        f"{attempt.latency_ms} ms" if attempt.latency_ms is not None else "",
        attempt.error,
    )


class DeliveryStreamInline(admin.TabularInline):
    model = DeliveryStream
    extra = 0
    can_delete = False
    verbose_name_plural = _("delivery streams (one per connection)")
    fields = (
        "connection", "position", "last_event", "backlog", "attempts", "next_attempt_at",
        "leased_until",
    )  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[DeliveryStream]:
        connection = Connection.objects.filter(pk=OuterRef("connection_id"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                connection_name=Subquery(connection.values("name")[:1]),
                last_event_number=Subquery(connection.values("last_event_number")[:1]),
            )
        )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Part of the endpoint's page: whoever may see the endpoint sees its streams.
        return any(
            request.user.has_perm(f"scim_portal.{action}_webhookendpoint")
            for action in ("view", "change")
        )

    @admin.display(description=_("connection"))
    def connection(self, stream: DeliveryStream) -> str:
        name = getattr(stream, "connection_name", None)
        if name:
            return f"{name} ({stream.connection_id})"
        return gettext("deleted (%(id)s)") % {"id": stream.connection_id}

    @admin.display(description=_("connection's last event"))
    def last_event(self, stream: DeliveryStream) -> int:
        return int(getattr(stream, "last_event_number", None) or 0)

    @admin.display(description=_("backlog"))
    def backlog(self, stream: DeliveryStream) -> int:
        return max(self.last_event(stream) - stream.position, 0)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """The vendor's webhook endpoints: add one (its secret shown once), change its URL,
    event types and description, and from its page rotate the secret, send a test event,
    pause or resume it and replay a connection's events."""

    list_display = (
        "__str__", "account", "format", "method", "state", "failing_since", "backlog",
    )  # fmt: skip
    list_filter = ("state", "format", "method")
    list_select_related = ("account",)
    readonly_fields = (
        "id", "account", "format", "method", "state", "failing_since", "secrets_shown",
        "backlog", "recent_deliveries", "created_at", "created_by", "updated_at",
    )  # fmt: skip
    inlines = [DeliveryStreamInline]
    actions = None
    change_form_template = "admin/scim_portal/webhookendpoint/change_form.html"

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return ("url", "description", "=id", f"account__{app_settings.ACCOUNT_LOOKUP_FIELD}")

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEndpoint]:
        return with_backlog(super().get_queryset(request))

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = EndpointChangeForm if obj is not None else EndpointAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return EndpointAddForm.Meta.fields
        editable = [f for f in EndpointChangeForm.Meta.fields if f != "url" or obj.url]
        return [*editable, *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj is not None else []

    @admin.display(description=_("backlog"), ordering="backlog")
    def backlog(self, endpoint: WebhookEndpoint) -> int:
        return int(getattr(endpoint, "backlog", 0) or 0)

    @admin.display(description=_("secrets"))
    def secrets_shown(self, endpoint: WebhookEndpoint) -> str:
        """Prefixes and expiry only: a secret is shown once, when it is made."""
        rows = []
        for secret in endpoint.secrets.all():
            state = gettext("active") if secret.is_active() else gettext("expired")
            if secret.expires_at is not None:
                until = date_format(timezone.localtime(secret.expires_at), "SHORT_DATETIME_FORMAT")
                # Translators: a secret's state (active, expired) and when it stops signing.
                state = gettext("%(state)s, until %(date)s") % {"state": state, "date": until}
            rows.append((secret.prefix, state))
        return format_html_join("", "<div><code>{}…</code> {}</div>", rows)

    @admin.display(description=_("delivery log"))
    def recent_deliveries(self, endpoint: WebhookEndpoint) -> str:
        attempts = DeliveryAttempt.objects.filter(endpoint=endpoint)[:RECENT_ATTEMPTS]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (_attempt_cells(attempt) for attempt in attempts),
        )
        headings = format_html_join(
            "",
            '<th scope="col">{}</th>',
            (
                (heading,)
                for heading in (
                    # Translators: the column headings of an endpoint's recent deliveries.
                    gettext("when"),
                    gettext("outcome"),
                    gettext("event"),
                    gettext("status"),
                    gettext("latency"),
                    gettext("error"),
                )
            ),
        )
        return format_html(
            '<table><tr>{}</tr>{}</table><p><a href="{}?endpoint__id__exact={}">{}</a></p>',
            headings,
            rows,
            reverse("admin:scim_portal_deliveryattempt_changelist"),
            endpoint.pk,
            gettext("Its whole delivery log"),
        )

    # Add and change, through the services

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            fields = {name: form.cleaned_data[name] for name in form.changed_data}
            if fields:
                current = WebhookEndpoint.objects.get(pk=obj.pk)
                endpoints.update_endpoint(current, actor=request.user, **fields)
            return
        data = form.cleaned_data
        endpoint, issued = endpoints.add_endpoint(
            url=data.get("url") or "",
            format=data["format"],
            method=data["method"],
            account=data.get("account"),
            event_types=list(data.get("event_types") or []),
            description=data.get("description", ""),
            actor=request.user,
        )
        obj.pk, obj.created_at, obj.created_by = endpoint.pk, endpoint.created_at, request.user
        obj._state.adding, obj._state.db = False, endpoint._state.db
        request._scim_portal_raw_secret = issued  # type: ignore[attr-defined]

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        endpoints.delete_endpoint(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for endpoint in queryset:
            endpoints.delete_endpoint(endpoint, actor=request.user)

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        issued = getattr(request, "_scim_portal_raw_secret", None)
        if issued is None:
            return super().response_add(request, obj, post_url_continue)
        return self._secret_page(request, obj, issued, created=True)

    def _secret_page(
        self, request: HttpRequest, endpoint: WebhookEndpoint, issued: Any, *, created: bool
    ) -> HttpResponse:
        previous = endpoint.secrets.exclude(pk=issued.secret.pk).filter(expires_at__isnull=False)
        active = [secret for secret in previous if secret.is_active()]
        # Translators: a secret's first characters and when it stops signing.
        until = gettext("{prefix} until {date}")
        previous_shown = format_html_join(
            ", ",
            "{}",
            (
                (
                    format_html(
                        until,
                        prefix=format_html("<code>{}…</code>", secret.prefix),
                        date=date_format(
                            timezone.localtime(secret.expires_at), "SHORT_DATETIME_FORMAT"
                        ),
                    ),
                )
                for secret in active
            ),
        )
        return admin_page(
            self,
            request,
            "webhookendpoint/secret_issued.html",
            gettext("Webhook endpoint added") if created else gettext("Secret rotated"),
            endpoint=endpoint,
            secret=issued.raw,
            created=created,
            previous=active,
            previous_shown=previous_shown,
        )

    # The endpoint's actions

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("<uuid:object_id>/rotate-secret/", view(self.rotate_secret_view),
                 name="scim_portal_webhookendpoint_rotate_secret"),
            path("<uuid:object_id>/send-test/", view(self.send_test_view),
                 name="scim_portal_webhookendpoint_send_test"),
            path("<uuid:object_id>/pause/", view(self.pause_view),
                 name="scim_portal_webhookendpoint_pause"),
            path("<uuid:object_id>/resume/", view(self.resume_view),
                 name="scim_portal_webhookendpoint_resume"),
            path("<uuid:object_id>/replay/", view(self.replay_view),
                 name="scim_portal_webhookendpoint_replay"),
            *super().get_urls(),
        ]  # fmt: skip

    def _endpoint(self, request: HttpRequest, object_id: Any) -> WebhookEndpoint:
        endpoint = get_object_or_404(WebhookEndpoint, pk=object_id)
        if not self.has_change_permission(request, endpoint):
            raise PermissionDenied
        return endpoint

    def _back(self, endpoint: WebhookEndpoint) -> HttpResponseRedirect:
        return HttpResponseRedirect(
            reverse("admin:scim_portal_webhookendpoint_change", args=[endpoint.pk])
        )

    def _action_page(
        self, request: HttpRequest, endpoint: WebhookEndpoint, title: str, **context: Any
    ) -> HttpResponse:
        return admin_page(
            self, request, "webhookendpoint/action.html", title, endpoint=endpoint, **context
        )

    def rotate_secret_view(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        """Ask for the overlap (GET), then make a new secret and show it once (POST)."""
        endpoint = self._endpoint(request, object_id)
        initial = {"overlap_hours": app_settings.WEBHOOK_SECRET_OVERLAP_HOURS}
        form = RotateSecretForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            hours = form.cleaned_data["overlap_hours"]
            issued = endpoints.rotate_secret(endpoint, overlap_hours=hours, actor=request.user)
            self.log_change(request, endpoint, f"Rotated the secret ({hours:g} h overlap).")
            return self._secret_page(request, endpoint, issued, created=False)
        return self._action_page(
            request, endpoint, gettext("Rotate the secret"), action="rotate", form=form
        )

    def send_test_view(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        """Confirm (GET), then send a ``webhook.test`` message and show what came back."""
        endpoint = self._endpoint(request, object_id)
        if request.method == "POST":
            try:
                attempt = endpoints.send_test(endpoint, actor=request.user)
            except ValidationError as exc:
                self.message_user(request, exc.messages[0], messages.ERROR)
                return self._back(endpoint)
            self.log_change(request, endpoint, "Sent a test event.")
            return self._action_page(
                request, endpoint, gettext("Test event sent"), action="tested", attempt=attempt,
                ok=attempt.status_code is not None and 200 <= attempt.status_code < 300,
            )  # fmt: skip
        return self._action_page(request, endpoint, gettext("Send a test event"), action="test")

    def _set_state(self, request: HttpRequest, object_id: Any, state: str) -> HttpResponse:
        endpoint = self._endpoint(request, object_id)
        pausing = state == EndpointState.PAUSED
        if request.method == "POST":
            endpoints.update_endpoint(endpoint, state=state, actor=request.user)
            # The admin log entry is stored: in English, as Django's own are.
            self.log_change(request, endpoint, "Paused." if pausing else "Resumed.")
            done = gettext("Paused %(endpoint)s.") if pausing else gettext("Resumed %(endpoint)s.")
            self.message_user(request, done % {"endpoint": endpoint}, messages.SUCCESS)
            return self._back(endpoint)
        title = gettext("Pause the endpoint") if pausing else gettext("Resume the endpoint")
        return self._action_page(request, endpoint, title, action="pause" if pausing else "resume")

    def pause_view(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        """Confirm, then stop deliveries; events wait in order until it is resumed."""
        return self._set_state(request, object_id, EndpointState.PAUSED)

    def resume_view(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        """Confirm, then deliver again, from where each connection's stream stopped."""
        return self._set_state(request, object_id, EndpointState.ENABLED)

    def replay_view(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        """Choose a connection and an event number (GET), then deliver its events again
        from that number on (POST)."""
        endpoint = self._endpoint(request, object_id)
        form = ReplayForm(request.POST or None, endpoint=endpoint)
        if request.method == "POST" and form.is_valid():
            connection = form.cleaned_data["connection"]
            number = form.cleaned_data["from_number"]
            try:
                endpoints.replay(endpoint, connection.pk, number, actor=request.user)
            except ValidationError as exc:
                form.add_error(None, exc.messages[0])
            else:
                self.log_change(
                    request, endpoint, f"Replaying “{connection.name}” from event #{number}."
                )
                message = gettext("Replaying “%(name)s” from event #%(number)s.") % {
                    "name": connection.name, "number": number,
                }  # fmt: skip
                self.message_user(request, message, messages.SUCCESS)
                return self._back(endpoint)
        return self._action_page(
            request, endpoint, gettext("Replay a connection's events"), action="replay", form=form
        )


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    """The delivery log: every try at every event, and test events. Read-only."""

    list_display = (
        "created_at", "endpoint", "connection_id", "event_number", "event_type", "attempt",
        "outcome", "status_code", "latency_ms", "error", "response_excerpt",
    )  # fmt: skip
    list_filter = ("outcome", "endpoint")
    list_select_related = ("endpoint",)
    search_fields = ("=connection_id", "event_type", "error")
    date_hierarchy = "created_at"
    actions = None
