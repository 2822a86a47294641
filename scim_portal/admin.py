"""Django admin for vendor staff: every account's connections, their credentials,
directory and logs; environment keys and OAuth applications.

Writes go through the provisioning services. A secret (a credential's, an environment
key, an OAuth application's) is shown once, on the page that issues it (rendered
directly and never cached: it does not travel through the messages framework, which
may store messages in the session), and never again. Staff see what their model
permissions allow. Changes to a connection are its events; environment keys and OAuth
applications belong to no connection or account, so their changes are Django admin
log entries and lines on the ``scim_portal.admin`` logger (never with a secret).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from ._sentences import in_language
from .admin_dashboard import HealthFilter, dashboard_view
from .conf import app_settings
from .health import health, with_last_status
from .models import (
    AccountDomain,
    Connection,
    Credential,
    CredentialKind,
    DirectoryGroup,
    DirectoryUser,
    EnvironmentKey,
    IssuedCredential,
    OAuthApplication,
    ProvisioningEvent,
    RequestLog,
)
from .provisioning import (
    create_connection,
    delete_connection,
    directory,
    issue_credential,
    revoke_application,
    revoke_credential,
)
from .provisioning.credentials import ISSUABLE_KINDS
from .provisioning.domains import add_domain, check_new_domain, mark_verified, remove_domain
from .provisioning.events import Actor
from .provisioning.exceptions import DomainError

#: Changes that are no connection's events (environment keys, OAuth applications).
audit = logging.getLogger("scim_portal.admin")


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


#: A credential's state (``Credential.state``) as the admin shows it.
CREDENTIAL_STATES = {
    "active": _("active"),
    "expired": _("expired"),
    "revoked": _("revoked"),
}


class CredentialInline(admin.TabularInline):
    model = Credential
    extra = 0
    can_delete = False
    fields = (
        "kind", "label", "shown_as", "created_at", "last_used_at", "expires_at", "state",
        "revoke",
    )  # fmt: skip
    readonly_fields = fields
    verbose_name_plural = _("credentials (issue a new one with “Issue credential” above)")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # issued by the "Issue credential" page, which shows the secret once

    @admin.display(description=_("prefix, username or subject"))
    def shown_as(self, credential: Credential) -> str:
        return credential.display

    @admin.display(description=_("state"))
    def state(self, credential: Credential) -> str:
        return str(CREDENTIAL_STATES[credential.state])

    @admin.display(description="")
    def revoke(self, credential: Credential) -> str:
        if not credential.is_usable:
            return ""
        url = reverse(
            "admin:scim_portal_connection_revoke_credential",
            args=[credential.connection_id, credential.pk],
        )
        return format_html('<a href="{}">{}</a>', url, gettext("Revoke…"))


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
            "brake_enabled",
            "brake_percent",
            "brake_minimum",
        ]


class IssueCredentialForm(forms.Form):
    """What staff choose when issuing a credential (the federated fields for a federated
    issuer only)."""

    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[(kind.value, kind.label) for kind in ISSUABLE_KINDS],
        initial=CredentialKind.BEARER,
    )
    label = forms.CharField(label=_("Label"), max_length=100, required=False)
    expires_at = forms.DateTimeField(
        label=_("Expires at"),
        required=False,
        help_text=_("Optional, e.g. 2027-01-31 18:00."),
    )
    issuer = forms.CharField(
        label=_("Issuer"),
        max_length=500,
        required=False,
        # Translators: iss is the name of a JWT claim; keep it.
        help_text=_("Federated: the assertions' iss (a URL)."),
    )
    subject = forms.CharField(
        label=_("Subject"),
        max_length=500,
        required=False,
        # Translators: sub is the name of a JWT claim; keep it.
        help_text=_("Federated: the assertions' sub."),
    )
    audience = forms.CharField(
        label=_("Audience"),
        max_length=500,
        required=False,
        # Translators: aud is the name of a JWT claim; keep it.
        help_text=_("Federated: the assertions' aud."),
    )
    jwks_url = forms.CharField(
        max_length=500,
        required=False,
        label=_("JWKS URL"),
        help_text=_(
            "Federated, optional: where its keys are (default: the jwks_uri of the "
            "issuer's OpenID configuration)."
        ),
    )

    FEDERATED_FIELDS = ("issuer", "subject", "audience", "jwks_url")

    def __init__(self, *args: Any, kind: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The "Issue token" page's kind (a bearer token): nothing to choose.
        self.fixed_kind = kind
        if kind is not None:
            for name in ("kind", *self.FEDERATED_FIELDS):
                del self.fields[name]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        kind = self.fixed_kind or cleaned.get("kind")
        cleaned["kind"] = kind
        if kind == CredentialKind.FEDERATED:
            for name in ("issuer", "subject", "audience"):
                if not cleaned.get(name, "").strip():
                    self.add_error(name, gettext("A federated issuer needs this."))
        else:
            for name in self.FEDERATED_FIELDS:
                if cleaned.get(name):
                    self.add_error(name, gettext("Only a federated issuer takes this."))
                cleaned.pop(name, None)
        return cleaned


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = (
        "name", "account", "provider", "status", "user_count", "group_count", "last_request_at",
    )  # fmt: skip
    list_filter = (
        HealthFilter, "provider", "link_policy", "deprovision_policy", "out_of_domain_policy",
    )  # fmt: skip
    list_select_related = ("account",)
    readonly_fields = (
        "id", "account", "provider", "scim_url", "status", "created_by", "created_at",
        "last_request_at", "last_event_number", "oauth_client", "access_token_lifetime",
        "token_endpoint",
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

    @admin.display(description=_("status"))
    def status(self, connection: Connection) -> str:
        return health(connection).label

    @admin.display(description=_("users"), ordering="user_count")
    def user_count(self, connection: Connection) -> int:
        return int(getattr(connection, "user_count", 0))

    @admin.display(description=_("groups"), ordering="group_count")
    def group_count(self, connection: Connection) -> int:
        return int(getattr(connection, "group_count", 0))

    @admin.display(description=_("SCIM URL"))
    def scim_url(self, connection: Connection) -> str:
        return connection.setup_url()

    @admin.display(description=_("OAuth client id"))
    def oauth_client(self, connection: Connection) -> str:
        return connection.oauth_client_id or gettext(
            "none yet (given with a first client secret or issuer)"
        )

    @admin.display(description=_("OAuth token endpoint"))
    def token_endpoint(self, connection: Connection) -> str:
        return Connection.token_endpoint()

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
        return self._credential_page(request, obj, issued, created=True)

    def _credential_page(
        self,
        request: HttpRequest,
        connection: Connection,
        issued: IssuedCredential,
        *,
        created: bool,
    ) -> HttpResponse:
        credential = issued.credential
        oauth = credential.kind in (CredentialKind.CLIENT_SECRET, CredentialKind.FEDERATED)
        return admin_page(
            self,
            request,
            "credential_issued.html",
            gettext("Connection created")
            if created
            else gettext("%(kind)s issued") % {"kind": credential.get_kind_display()},
            connection=connection,
            scim_url=self.scim_url(connection),
            credential=credential,
            secret=issued.raw,
            client_id=connection.oauth_client_id if oauth else "",
            token_endpoint=Connection.token_endpoint() if oauth else "",
            created=created,
        )

    # Issue, revoke, delete

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("dashboard/", view(self.dashboard_view), name="scim_portal_connection_dashboard"),
            path("<uuid:object_id>/issue-credential/", view(self.issue_credential_view),
                 name="scim_portal_connection_issue_credential"),
            path("<uuid:object_id>/issue-token/", view(self.issue_token_view),
                 name="scim_portal_connection_issue_token"),
            path("<uuid:object_id>/credentials/<int:credential_id>/revoke/",
                 view(self.revoke_credential_view),
                 name="scim_portal_connection_revoke_credential"),
            *super().get_urls(),
        ]  # fmt: skip

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        """Every account's connections at a glance (:mod:`scim_portal.admin_dashboard`)."""
        return dashboard_view(self, request)

    def issue_credential_view(
        self, request: HttpRequest, object_id: Any, kind: str | None = None
    ) -> HttpResponse:
        """Issue a credential (any issuable kind; ``kind`` fixes one) and show its secret
        once. Needs the change permission."""
        connection = get_object_or_404(Connection, pk=object_id)
        if not self.has_change_permission(request, connection):
            raise PermissionDenied
        form = IssueCredentialForm(request.POST or None, kind=kind)
        if request.method == "POST" and form.is_valid():
            fields = dict(form.cleaned_data)
            try:
                issued = issue_credential(
                    connection,
                    fields.pop("kind"),
                    created_by=request.user,
                    actor=Actor.for_user(request.user, via="admin"),
                    **fields,
                )
            except ValueError as exc:
                form.add_error(None, str(exc))
            else:
                connection.refresh_from_db(fields=["oauth_client_id"])
                return self._credential_page(request, connection, issued, created=False)
        title = (
            gettext("Issue a token")
            if kind == CredentialKind.BEARER
            else gettext("Issue a credential")
        )
        return admin_page(
            self, request, "issue_credential.html", title, connection=connection, form=form
        )

    def issue_token_view(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        """The bearer-token shortcut of :meth:`issue_credential_view`."""
        return self.issue_credential_view(request, object_id, kind=CredentialKind.BEARER)

    def revoke_credential_view(
        self, request: HttpRequest, object_id: Any, credential_id: int
    ) -> HttpResponse:
        """Confirm (GET), then revoke (POST) a credential with its access tokens. Needs
        the delete permission."""
        connection = get_object_or_404(Connection, pk=object_id)
        credential = get_object_or_404(Credential, pk=credential_id, connection=connection)
        if not self.has_delete_permission(request, connection):
            raise PermissionDenied
        if request.method == "POST":
            revoke_credential(credential, actor=Actor.for_user(request.user, via="admin"))
            self.message_user(
                request,
                gettext("Revoked %(credential)s.") % {"credential": credential},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(
                reverse("admin:scim_portal_connection_change", args=[connection.pk])
            )
        return admin_page(
            self,
            request,
            "revoke_credential.html",
            gettext("Revoke %(kind)s") % {"kind": credential.get_kind_display()},
            connection=connection,
            credential=credential,
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
            counts = {
                "name": connection.name,
                "users": ngettext("%(count)s user", "%(count)s users", result.users)
                % {"count": result.users},
                "groups": ngettext("%(count)s group", "%(count)s groups", result.groups)
                % {"count": result.groups},
            }
            if remove:
                message = gettext("Deleted “%(name)s” (%(users)s, %(groups)s).") % counts
            else:
                message = (
                    gettext("Deleted “%(name)s” (%(users)s, %(groups)s). Host users were kept.")
                    % counts
                )
            self.message_user(request, message, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:scim_portal_connection_changelist"))
        users = DirectoryUser.objects.filter(connection=connection)
        return admin_page(
            self,
            request,
            "connection/delete_confirmation.html",
            gettext("Delete connection"),
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
        audit.info("Environment key %r (%s…) issued by %s", key.name, key.prefix, request.user)

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        raw = request._scim_portal_raw_key  # type: ignore[attr-defined]
        return admin_page(
            self,
            request,
            "key_issued.html",
            gettext("Environment key issued"),
            key=obj,
            raw=raw,
        )

    @admin.action(description=_("Revoke the selected keys"), permissions=["add"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[EnvironmentKey]) -> None:
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            key.revoke()
            revoked += 1
            self.log_change(request, key, "Revoked.")
            audit.info("Environment key %r (%s…) revoked by %s", key.name, key.prefix, request.user)
        self.message_user(
            request,
            ngettext("Revoked %(count)s key.", "Revoked %(count)s keys.", revoked)
            % {"count": revoked},
            messages.SUCCESS,
        )


def _redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be a redirect URI of an OAuth application, or None."""
    try:
        URLValidator(schemes=["https", "http"])(uri)
    except ValidationError:
        return gettext("%(uri)s is not a URL.") % {"uri": uri}
    parts = urlsplit(uri)
    if parts.fragment:
        return gettext("%(uri)s: a redirect URI has no #fragment.") % {"uri": uri}
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        return gettext("%(uri)s: use https (http only for localhost).") % {"uri": uri}
    return None


class OAuthApplicationForm(forms.ModelForm):
    class Meta:
        model = OAuthApplication
        fields = ["name", "redirect_uris"]

    def clean_redirect_uris(self) -> str:
        lines = [line.strip() for line in self.cleaned_data["redirect_uris"].splitlines()]
        uris = [line for line in lines if line]
        if not uris:
            raise ValidationError(gettext("Give at least one redirect URI."))
        problems = [problem for problem in map(_redirect_uri_problem, uris) if problem]
        if problems:
            raise ValidationError(problems)
        return "\n".join(uris)


@admin.register(OAuthApplication)
class OAuthApplicationAdmin(admin.ModelAdmin):
    """The vendor's OAuth clients (e.g. its app in Okta's integration network): add one to
    get its client id and secret (shown once), regenerate the secret, revoke it. Never
    deleted, so the authorisations it was given stay on record; revoking it also revokes
    every authorisation, which ends their access and refresh tokens at once."""

    form = OAuthApplicationForm
    list_display = (
        "name", "client_id", "secret_prefix", "authorization_count", "created_at", "revoked_at",
    )  # fmt: skip
    search_fields = ("name", "=client_id")
    readonly_fields = (
        "client_id", "secret_shown_as", "authorize_url", "token_endpoint", "created_at",
        "revoked_at",
    )  # fmt: skip
    change_form_template = "admin/scim_portal/oauthapplication/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[OAuthApplication]:
        usable = Q(authorizations__revoked_at__isnull=True)
        return (
            super()
            .get_queryset(request)
            .annotate(authorization_count=Count("authorizations", filter=usable))
        )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["name", "redirect_uris"]
        return ["name", "redirect_uris", *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        if obj.revoked_at is not None:
            return ("name", "redirect_uris", *self.readonly_fields)
        return self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: its authorisations stay on record

    @admin.display(description=_("live authorisations"), ordering="authorization_count")
    def authorization_count(self, application: OAuthApplication) -> int:
        return int(getattr(application, "authorization_count", 0))

    @admin.display(description=_("secret"))
    def secret_shown_as(self, application: OAuthApplication) -> str:
        return f"{application.secret_prefix}…"

    @admin.display(description=_("authorisation URL"))
    def authorize_url(self, application: OAuthApplication) -> str:
        base = (app_settings.PUBLIC_URL or "").rstrip("/")
        return base + reverse("scim_portal:oauth-authorize")

    @admin.display(description=_("token endpoint"))
    def token_endpoint(self, application: OAuthApplication) -> str:
        return Connection.token_endpoint()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            audit.info(
                "OAuth application %r (%s) changed by %s: %s",
                obj.name, obj.client_id, request.user, ", ".join(form.changed_data),
            )  # fmt: skip
            return
        request._scim_portal_raw_secret = obj.set_secret()  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)
        audit.info(
            "OAuth application %r (%s) registered by %s", obj.name, obj.client_id, request.user
        )

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        return self._secret_page(request, obj, request._scim_portal_raw_secret, created=True)  # type: ignore[attr-defined]

    def _secret_page(
        self, request: HttpRequest, application: OAuthApplication, raw: str, *, created: bool
    ) -> HttpResponse:
        return admin_page(
            self,
            request,
            "oauthapplication/secret_issued.html",
            gettext("OAuth application registered") if created else gettext("New client secret"),
            application=application,
            secret=raw,
            created=created,
            authorize_url=self.authorize_url(application),
            token_endpoint=Connection.token_endpoint(),
        )

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/regenerate-secret/", view(self.regenerate_secret_view),
                 name="scim_portal_oauthapplication_regenerate_secret"),
            path("<int:object_id>/revoke/", view(self.revoke_view),
                 name="scim_portal_oauthapplication_revoke"),
            *super().get_urls(),
        ]  # fmt: skip

    def _application(self, request: HttpRequest, object_id: int) -> OAuthApplication:
        application = get_object_or_404(OAuthApplication, pk=object_id)
        if not self.has_change_permission(request, application):
            raise PermissionDenied
        return application

    def regenerate_secret_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Confirm (GET), then replace the secret (POST): the old one stops at once."""
        application = self._application(request, object_id)
        if application.revoked_at is not None:
            self.message_user(
                request, gettext("A revoked application gets no secret."), messages.ERROR
            )
            return HttpResponseRedirect(
                reverse("admin:scim_portal_oauthapplication_change", args=[application.pk])
            )
        if request.method == "POST":
            with transaction.atomic():
                locked = OAuthApplication.objects.select_for_update().get(pk=application.pk)
                raw = locked.set_secret()
                locked.save(update_fields=["secret_digest", "secret_prefix"])
                self.log_change(request, locked, "Regenerated the client secret.")
            audit.info(
                "OAuth application %r (%s) secret regenerated by %s",
                locked.name, locked.client_id, request.user,
            )  # fmt: skip
            return self._secret_page(request, locked, raw, created=False)
        return admin_page(
            self,
            request,
            "oauthapplication/confirm.html",
            gettext("Regenerate the client secret"),
            application=application,
            action="regenerate",
        )

    def revoke_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Confirm (GET), then revoke (POST) the application and every authorisation it
        was given, with their tokens."""
        application = self._application(request, object_id)
        authorizations = Credential.objects.filter(
            application=application, revoked_at__isnull=True
        ).select_related("connection")
        if request.method == "POST":
            actor = Actor.for_user(request.user, via="admin")
            with transaction.atomic():
                ended = revoke_application(application, actor=actor)
                locked = application
                self.log_change(request, locked, f"Revoked, with {ended} authorisation(s).")
            audit.info(
                "OAuth application %r (%s) revoked by %s, with %d authorisation(s)",
                locked.name, locked.client_id, request.user, ended,
            )  # fmt: skip
            self.message_user(
                request,
                ngettext(
                    "Revoked “%(name)s” and %(count)s authorisation.",
                    "Revoked “%(name)s” and %(count)s authorisations.",
                    ended,
                )
                % {"name": locked.name, "count": ended},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(
                reverse("admin:scim_portal_oauthapplication_change", args=[locked.pk])
            )
        return admin_page(
            self,
            request,
            "oauthapplication/confirm.html",
            gettext("Revoke the application"),
            application=application,
            action="revoke",
            authorization_count=authorizations.count(),
        )


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
    search_fields = ("user_name", "email", "display_name", "=external_id", "=id", "=legacy_id")
    list_select_related = ("connection", "host_user")


@admin.register(DirectoryGroup)
class DirectoryGroupAdmin(ReadOnlyAdmin):
    list_display = ("display_name", "connection", "external_id", "last_modified")
    list_filter = ("connection__provider",)
    search_fields = ("display_name", "=external_id", "=id", "=legacy_id")
    list_select_related = ("connection",)


class StatusClassFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status_class"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("2", _("2xx success")),
            ("4", _("4xx client error")),
            ("5", _("5xx server error")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value in {"2", "4", "5"}:
            low = int(value) * 100
            return queryset.filter(status__gte=low, status__lt=low + 100)
        return queryset


class ConnectionFilter(admin.SimpleListFilter):
    """By connection, also for rows of deleted connections (kept for the audit trail)."""

    title = _("connection")
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


class BlankNamedValuesFilter(admin.AllValuesFieldListFilter):
    """A field's values, the blank one shown as the admin's empty value: Django draws it
    as an empty link, which nobody can read or name (axe-core's link-name)."""

    def choices(self, changelist: Any) -> Any:
        for choice in super().choices(changelist):
            display = str(choice["display"])
            if display == "" or display.startswith(" ("):  # " (3)" with facets shown
                choice["display"] = f"{self.empty_value_display}{display}"
            yield choice


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
    list_filter = (
        StatusClassFilter,
        ConnectionFilter,
        "connection__provider",
        ("idp", BlankNamedValuesFilter),
        "method",
    )
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
    title = _("verified")
    parameter_name = "verified"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Verified")), ("no", _("Not verified"))]

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
                self.add_error("domain", in_language(str(exc)))
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

    @admin.display(description=_("verified"), boolean=True, ordering="verified_at")
    def verified(self, domain: AccountDomain) -> bool:
        return domain.is_verified

    @admin.display(description=_("TXT record name"))
    def record_name(self, domain: AccountDomain) -> str:
        return domain.record_name

    @admin.display(description=_("TXT record value"))
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

    @admin.action(
        description=_("Mark verified (ownership checked by staff)"), permissions=["change"]
    )
    def mark_domains_verified(
        self, request: HttpRequest, queryset: QuerySet[AccountDomain]
    ) -> None:
        for domain in queryset.select_related("account"):
            where = {"domain": domain, "account": domain.account}
            try:
                marked = mark_verified(domain, actor=self.actor(request))
            except DomainError as exc:
                # Translators: a domain, its account, and why it was not marked verified.
                message = gettext("%(domain)s (%(account)s): %(error)s") % {
                    **where,
                    "error": in_language(str(exc)),
                }
                self.message_user(request, message, messages.ERROR)
            else:
                if marked:
                    message = gettext("%(domain)s (%(account)s): marked verified.") % where
                    self.message_user(request, message, messages.SUCCESS)
                else:
                    message = gettext("%(domain)s (%(account)s): was already verified.") % where
                    self.message_user(request, message, messages.INFO)


# Webhook endpoints and the delivery log; the brake's removals and the deleted users kept
# restorable (registered on import; they use admin_page and ReadOnlyAdmin above).
from . import admin_safety, admin_webhooks  # noqa: E402,F401
