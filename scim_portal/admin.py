"""Django admin for vendor staff: every account's connections, tokens, directory and logs.

Writes go through the provisioning services. A token (or environment key) is
shown once, on the page that issues it (rendered directly and never cached: it
does not travel through the messages framework, which may store messages in the
session), and never again. Staff see what their model permissions allow.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from .conf import app_settings
from .health import health, with_last_status
from .models import (
    AccountDomain,
    Connection,
    Credential,
    DirectoryGroup,
    DirectoryUser,
    EnvironmentKey,
    ProvisioningEvent,
    RequestLog,
)
from .provisioning import (
    create_connection,
    delete_connection,
    directory,
    issue_token,
    revoke_credential,
)
from .provisioning.domains import add_domain, check_new_domain, mark_verified, remove_domain
from .provisioning.events import Actor
from .provisioning.exceptions import DomainError


def admin_page(
    model_admin: admin.ModelAdmin,  # type: ignore[type-arg]
    request: HttpRequest,
    template: str,
    title: str,
    **context: Any,
) -> TemplateResponse:
    """One of this app's own admin pages (``admin/scim_portal/<template>``) in the admin's
    frame. Every admin view is wrapped in ``admin_site.admin_view``, which marks it never
    cached: the pages that show a token or key once rely on that (tests check it)."""
    return TemplateResponse(
        request,
        f"admin/scim_portal/{template}",
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "opts": model_admin.model._meta,
            **context,
        },
    )


class CredentialInline(admin.TabularInline):
    model = Credential
    extra = 0
    can_delete = False
    fields = ("prefix", "label", "created_at", "last_used_at", "expires_at", "state", "revoke")
    readonly_fields = fields
    verbose_name_plural = "tokens (issue a new one with “Issue token” above)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # issued by the "Issue token" page, which shows the value once

    @admin.display(description="state")
    def state(self, token: Credential) -> str:
        if token.is_revoked:
            return "revoked"
        return "expired" if token.is_expired else "active"

    @admin.display(description="")
    def revoke(self, token: Credential) -> str:
        if not token.is_usable:
            return ""
        url = reverse(
            "admin:scim_portal_connection_revoke_credential", args=[token.connection_id, token.pk]
        )
        return format_html('<a href="{}">Revoke…</a>', url)


class ConnectionAddForm(forms.ModelForm):
    class Meta:
        model = Connection
        fields = ["account", "name", "provider"]


class ConnectionChangeForm(forms.ModelForm):
    class Meta:
        model = Connection
        fields = [
            "name",
            "link_policy",
            "deprovision_policy",
            "out_of_domain_policy",
            "default_role",
        ]


class RotateForm(forms.Form):
    label = forms.CharField(max_length=100, required=False)
    expires_at = forms.DateTimeField(required=False, help_text="Optional, e.g. 2027-01-31 18:00.")


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = (
        "name", "account", "provider", "status", "user_count", "group_count", "last_request_at",
    )  # fmt: skip
    list_filter = ("provider", "link_policy", "deprovision_policy", "out_of_domain_policy")
    list_select_related = ("account",)
    readonly_fields = (
        "id", "account", "provider", "scim_url", "status", "created_by", "created_at",
        "last_request_at", "last_event_number",
    )  # fmt: skip
    inlines = [CredentialInline]
    actions = None  # no bulk delete: deletion asks what to do with the directory
    change_form_template = "admin/scim_portal/connection/change_form.html"

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return ("name", "=id", f"account__{app_settings.ACCOUNT_LOOKUP_FIELD}")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Connection]:
        queryset = with_last_status(super().get_queryset(request).with_counts())  # type: ignore[attr-defined]
        return queryset.prefetch_related("credentials")  # type: ignore[no-any-return]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = ConnectionChangeForm if obj is not None else ConnectionAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["account", "name", "provider"]
        return [*self.readonly_fields, *ConnectionChangeForm.Meta.fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj is not None else []

    @admin.display(description="status")
    def status(self, connection: Connection) -> str:
        return health(connection).label

    @admin.display(description="users", ordering="user_count")
    def user_count(self, connection: Connection) -> int:
        return int(getattr(connection, "user_count", 0))

    @admin.display(description="groups", ordering="group_count")
    def group_count(self, connection: Connection) -> int:
        return int(getattr(connection, "group_count", 0))

    @admin.display(description="SCIM URL")
    def scim_url(self, connection: Connection) -> str:
        return connection.scim_url() + connection.provider_info.url_suffix

    # Add: through the service, with the token shown once

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        actor = Actor.for_user(request.user, via="admin")
        if change:
            directory.update_connection_settings(
                obj, actor=actor, **{field: form.cleaned_data[field] for field in form.changed_data}
            )
            return
        connection, issued = create_connection(
            account=obj.account,
            name=obj.name,
            provider=obj.provider,
            created_by=request.user,
            actor=actor,
        )
        obj.pk, obj.created_at, obj.created_by = connection.pk, connection.created_at, request.user
        obj._state.adding, obj._state.db = False, connection._state.db
        request._scim_portal_issued = issued  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        issued = getattr(request, "_scim_portal_issued", None)
        if issued is None:
            return super().response_add(request, obj, post_url_continue)
        return self._token_page(request, obj, issued.raw, created=True)

    def _token_page(
        self, request: HttpRequest, connection: Connection, raw: str, *, created: bool
    ) -> HttpResponse:
        return admin_page(
            self,
            request,
            "token_issued.html",
            "Connection created" if created else "Token issued",
            connection=connection,
            scim_url=self.scim_url(connection),
            token=raw,
            created=created,
        )

    # Rotate, revoke, delete

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("<uuid:object_id>/issue-token/", view(self.issue_token_view),
                 name="scim_portal_connection_issue_token"),
            path("<uuid:object_id>/credentials/<int:token_id>/revoke/",
                 view(self.revoke_credential_view),
                 name="scim_portal_connection_revoke_credential"),
            *super().get_urls(),
        ]  # fmt: skip

    def issue_token_view(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        connection = get_object_or_404(Connection, pk=object_id)
        if not self.has_change_permission(request, connection):
            raise PermissionDenied
        form = RotateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                issued = issue_token(
                    connection,
                    label=form.cleaned_data["label"],
                    expires_at=form.cleaned_data["expires_at"],
                    created_by=request.user,
                    actor=Actor.for_user(request.user, via="admin"),
                )
            except ValueError as exc:
                form.add_error("expires_at", str(exc))
            else:
                return self._token_page(request, connection, issued.raw, created=False)
        return admin_page(
            self, request, "issue_token.html", "Issue a token", connection=connection, form=form
        )

    def revoke_credential_view(
        self, request: HttpRequest, object_id: Any, token_id: int
    ) -> HttpResponse:
        connection = get_object_or_404(Connection, pk=object_id)
        token = get_object_or_404(Credential, pk=token_id, connection=connection)
        if not self.has_delete_permission(request, connection):
            raise PermissionDenied
        if request.method == "POST":
            revoke_credential(token, actor=Actor.for_user(request.user, via="admin"))
            self.message_user(request, f"Revoked token {token.prefix}…", messages.SUCCESS)
            return HttpResponseRedirect(
                reverse("admin:scim_portal_connection_change", args=[connection.pk])
            )
        return admin_page(
            self,
            request,
            "revoke_token.html",
            "Revoke a token",
            connection=connection,
            token=token,
        )

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        connection = get_object_or_404(Connection, pk=object_id)
        if not self.has_delete_permission(request, connection):
            raise PermissionDenied
        if request.method == "POST":
            remove = request.POST.get("remove_directory") == "on"
            result = delete_connection(
                connection, remove_directory=remove, actor=Actor.for_user(request.user, via="admin")
            )
            # The connection.deleted event records who did it (admin's LogEntry API for
            # deletions differs between Django 5.2 and 6).
            kept = "" if remove else " Host users were kept."
            counts = f"{result.users} users, {result.groups} groups"
            self.message_user(
                request, f"Deleted “{connection.name}” ({counts}).{kept}", messages.SUCCESS
            )
            return HttpResponseRedirect(reverse("admin:scim_portal_connection_changelist"))
        users = DirectoryUser.objects.filter(connection=connection)
        return admin_page(
            self,
            request,
            "connection/delete_confirmation.html",
            "Delete connection",
            connection=connection,
            user_count=users.count(),
            linked_count=users.filter(host_user__isnull=False).count(),
            group_count=DirectoryGroup.objects.filter(connection=connection).count(),
        )


@admin.register(EnvironmentKey)
class EnvironmentKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at")
    search_fields = ("name", "prefix")
    fields = ("name",)
    actions = ["revoke_keys"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the key stays for the audit trail

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        key, raw = EnvironmentKey.issue(obj.name, created_by=request.user)
        obj.pk, obj._state.adding, obj._state.db = key.pk, False, key._state.db
        request._scim_portal_raw_key = raw  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        raw = request._scim_portal_raw_key  # type: ignore[attr-defined]
        return admin_page(
            self,
            request,
            "key_issued.html",
            "Environment key issued",
            key=obj,
            raw=raw,
        )

    @admin.action(description="Revoke the selected keys", permissions=["add"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[EnvironmentKey]) -> None:
        for key in queryset:
            key.revoke()
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


class ReadOnlyAdmin(admin.ModelAdmin):
    """For support: searchable, never editable here (the IdP owns this data)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DirectoryUser)
class DirectoryUserAdmin(ReadOnlyAdmin):
    list_display = (
        "user_name",
        "connection",
        "email",
        "active",
        "role",
        "host_user",
        "last_modified",
    )
    list_filter = ("active", "connection__provider")
    search_fields = ("user_name", "email", "display_name", "=external_id", "=id")
    list_select_related = ("connection", "host_user")


@admin.register(DirectoryGroup)
class DirectoryGroupAdmin(ReadOnlyAdmin):
    list_display = ("display_name", "connection", "external_id", "last_modified")
    list_filter = ("connection__provider",)
    search_fields = ("display_name", "=external_id", "=id")
    list_select_related = ("connection",)


class StatusClassFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status_class"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("2", "2xx success"), ("4", "4xx client error"), ("5", "5xx server error")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value in {"2", "4", "5"}:
            low = int(value) * 100
            return queryset.filter(status__gte=low, status__lt=low + 100)
        return queryset


class ConnectionFilter(admin.SimpleListFilter):
    """By connection, also for rows of deleted connections (kept for the audit trail)."""

    title = "connection"
    parameter_name = "connection_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (str(pk), f"{name} ({account})")
            for pk, name, account in Connection.objects.values_list(
                "pk", "name", f"account__{app_settings.ACCOUNT_LOOKUP_FIELD}"
            )[:200]
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        try:
            return queryset.filter(connection_id=value)
        except (ValueError, ValidationError):
            return queryset.none()


@admin.register(RequestLog)
class RequestLogAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "connection_id",
        "method",
        "path",
        "status",
        "scim_type",
        "idp",
        "duration_ms",
    )
    list_filter = (StatusClassFilter, ConnectionFilter, "idp", "method")
    search_fields = ("path", "detail", "user_agent")
    date_hierarchy = "created_at"


@admin.register(ProvisioningEvent)
class ProvisioningEventAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "connection_id",
        "number",
        "type",
        "resource_type",
        "resource_id",
        "actor",
    )
    list_filter = ("type", "resource_type", ConnectionFilter)
    search_fields = ("=resource_id",)
    date_hierarchy = "created_at"


class VerifiedFilter(admin.SimpleListFilter):
    title = "verified"
    parameter_name = "verified"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Verified"), ("no", "Not verified")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in {"yes", "no"}:
            return queryset.filter(verified_at__isnull=self.value() == "no")
        return queryset


class AccountDomainAddForm(forms.ModelForm):
    class Meta:
        model = AccountDomain
        fields = ["account", "domain"]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if cleaned.get("account") is not None and cleaned.get("domain"):
            try:
                cleaned["domain"] = check_new_domain(cleaned["account"], cleaned["domain"])
            except DomainError as exc:
                self.add_error("domain", str(exc))
        return cleaned


@admin.register(AccountDomain)
class AccountDomainAdmin(admin.ModelAdmin):
    """Any account's domains. Staff add a domain, mark it verified when they have checked
    ownership another way, or remove it, all through the domain services (with events);
    its verification is never edited by hand."""

    list_display = ("domain", "account", "verified", "verification_method", "last_checked_at")
    list_filter = (VerifiedFilter, "verification_method")
    list_select_related = ("account",)
    form = AccountDomainAddForm
    actions = ["mark_domains_verified"]
    readonly_fields = (
        "account", "domain", "verified", "verification_method", "verified_at", "verified_by",
        "record_name", "record_value", "last_checked_at", "last_check_error", "created_at",
        "created_by",
    )  # fmt: skip

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return ("domain", f"account__{app_settings.ACCOUNT_LOOKUP_FIELD}")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["account", "domain"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    @admin.display(description="verified", boolean=True, ordering="verified_at")
    def verified(self, domain: AccountDomain) -> bool:
        return domain.is_verified

    @admin.display(description="TXT record name")
    def record_name(self, domain: AccountDomain) -> str:
        return domain.record_name

    @admin.display(description="TXT record value")
    def record_value(self, domain: AccountDomain) -> str:
        return domain.record_value

    def actor(self, request: HttpRequest) -> Actor:
        return Actor.for_user(request.user, via="admin")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            return  # nothing here is edited by hand
        domain = add_domain(
            obj.account, obj.domain, actor=self.actor(request), created_by=request.user
        )
        obj.pk, obj.domain = domain.pk, domain.domain
        obj._state.adding, obj._state.db = False, domain._state.db

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        remove_domain(obj, actor=self.actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for domain in queryset:
            remove_domain(domain, actor=self.actor(request))

    @admin.action(description="Mark verified (ownership checked by staff)", permissions=["change"])
    def mark_domains_verified(
        self, request: HttpRequest, queryset: QuerySet[AccountDomain]
    ) -> None:
        for domain in queryset.select_related("account"):
            where = f"{domain} ({domain.account})"
            try:
                marked = mark_verified(domain, actor=self.actor(request))
            except DomainError as exc:
                self.message_user(request, f"{where}: {exc}", messages.ERROR)
            else:
                if marked:
                    self.message_user(request, f"{where}: marked verified.", messages.SUCCESS)
                else:
                    self.message_user(request, f"{where}: was already verified.", messages.INFO)
