"""Views of the Provisioning tab.

Every view resolves the account from the URL, requires a login and the account
permission it needs (``read``, ``create`` or ``delete`` provisioning; 403
otherwise), and only ever sees that account's connections (404 otherwise).
Writes go through the provisioning services, with the signed-in user as actor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext, ngettext
from django.views import View
from django.views.decorators.csrf import csrf_protect

from .. import permissions
from .._formats import ago, number
from ..accounts import account_from_url, url_key
from ..conf import app_settings
from ..health import health, with_last_status
from ..models import (
    Connection,
    CredentialKind,
    DirectoryGroup,
    DirectoryUser,
    EmailDomainPolicy,
    GroupMembership,
    HostLink,
    ProvisioningEvent,
    RequestLog,
    RoleMapping,
)
from ..providers import PROVIDERS
from ..provisioning import delete_connection, directory
from ..provisioning.adapter import get_adapter
from ..provisioning.connections import deletion_preview
from ..provisioning.domains import domain_of, verified_domains
from ..provisioning.events import Actor
from . import charts, explanations, series
from .forms import DeleteConnectionForm, RoleMappingForm, SettingsForm

PAGE_SIZE = 25
NONCE_TTL = 60 * 60 * 24


def _nonce_key(nonce: str) -> str:
    return f"scim_portal:nonce:{nonce}"


def claim_nonce(nonce: str, value: str) -> str | None:
    """Claim a one-time form key: None the first time, else what it produced."""
    if cache.add(_nonce_key(nonce), value, NONCE_TTL):
        return None
    return cache.get(_nonce_key(nonce)) or ""


def remember_nonce(nonce: str, value: str) -> None:
    """Record what a claimed form key produced."""
    cache.set(_nonce_key(nonce), value, NONCE_TTL)


def release_nonce(nonce: str) -> None:
    """Free a claimed form key whose submission failed, so it may be sent again."""
    cache.delete(_nonce_key(nonce))


@method_decorator(csrf_protect, name="dispatch")
class PortalView(LoginRequiredMixin, View):
    """Base: the account, its permissions, and the connection in the URL."""

    #: Permission needed for GET; POST handlers check theirs with :meth:`require`.
    permission = permissions.READ
    template_name = ""
    tab = ""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.account = account_from_url(request, kwargs.pop("account"))
        self.can = {
            name: permissions.has_account_perm(request.user, codename, self.account)
            for name, codename in (
                ("read", permissions.READ),
                ("create", permissions.CREATE),
                ("delete", permissions.DELETE),
            )
        }
        if not self.can["read"]:
            raise PermissionDenied(gettext("You may not see this account's provisioning."))
        if request.method == "GET":
            self.require(self.permission)
        connection_id = kwargs.pop("connection_id", None)
        self.connection = None
        if connection_id is not None:
            self.connection = self.get_connection(connection_id)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[return-value]

    def require(self, codename: str) -> None:
        name = {
            permissions.READ: "read",
            permissions.CREATE: "create",
            permissions.DELETE: "delete",
        }
        if not self.can[name[codename]]:
            raise PermissionDenied(gettext("You do not have permission to do that here."))

    def get_connection(self, connection_id: Any) -> Connection:
        try:
            return (
                Connection.objects.select_related("account")
                .with_held_count()
                .get(pk=connection_id, account=self.account)
            )
        except Connection.DoesNotExist:
            raise Http404("No such connection.") from None

    def owned(self, rows: Any, pk: Any, what: str) -> Any:
        """Row ``pk`` of ``rows`` (a manager or queryset) in this page's connection, or 404."""
        try:
            return rows.get(connection=self.connection, pk=pk)
        except (rows.model.DoesNotExist, ValidationError, ValueError):
            raise Http404(f"No such {what}.") from None

    @property
    def actor(self) -> Actor:
        return Actor.for_user(self.request.user, via="portal")

    def url(self, name: str, *args: Any) -> str:
        return reverse(f"scim_portal:portal:{name}", args=[url_key(self.account), *args])

    def context(self, **extra: Any) -> dict[str, Any]:
        data = {
            "scim_portal_base_template": app_settings.BASE_TEMPLATE,
            "account": self.account,
            "account_key": url_key(self.account),
            "can": self.can,
            "connection": self.connection,
            "tab": self.tab,
        }
        if self.connection is not None:
            data["provider"] = self.connection.provider_info
            # The banner and the Held tab, on every page of the connection.
            data["held_count"] = getattr(self.connection, "held_count", 0)
            data["scim_url"] = self.scim_url()
            data.update(self.oauth_urls())
        data.update(extra)
        return data

    def scim_url(self) -> str:
        """The connection's SCIM base URL as its provider is given it (absolute)."""
        assert self.connection is not None
        base = self.request.build_absolute_uri("/")
        return self.connection.setup_url(base)

    def oauth_urls(self) -> dict[str, str]:
        """The absolute URLs of the token endpoint and the authorisation page."""
        return {
            "token_endpoint": self.request.build_absolute_uri(reverse("scim_portal:oauth-token")),
            "authorize_endpoint": self.request.build_absolute_uri(
                reverse("scim_portal:oauth-authorize")
            ),
        }

    def render(
        self, template: str | None = None, *, status: int = 200, **extra: Any
    ) -> HttpResponse:
        return render(
            self.request,
            template or self.template_name,
            self.context(**extra),
            status=status,
        )


def _page(request: HttpRequest, queryset: Any) -> Any:
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


# Connections


class ConnectionListView(PortalView):
    template_name = "scim_portal/portal/connection_list.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        connections = list(
            with_last_status(
                Connection.objects.filter(account=self.account).with_counts().with_held_count()
            )
            .prefetch_related("credentials")
            .order_by("created_at")
        )
        rows = [(connection, health(connection)) for connection in connections]
        return self.render(rows=rows)


class ConnectionDetailView(PortalView):
    template_name = "scim_portal/portal/connection_detail.html"
    tab = "overview"

    def get(self, request: HttpRequest) -> HttpResponse:
        assert self.connection is not None
        # Annotated with its counts and the times of its first and last directory change.
        connection: Any = (
            series.with_directory_changes(
                with_last_status(Connection.objects.filter(pk=self.connection.pk).with_counts())
            )
            .prefetch_related("credentials")
            .get()
        )
        now = timezone.now()
        syncing = series.is_first_sync(connection, now)
        return self.render(
            connection=connection,
            health=health(connection),
            guide=connection.provider_info.guide_template,
            recent_events=ProvisioningEvent.objects.filter(connection=connection).order_by(
                "-number"
            )[:5],
            counts={
                "users": number(connection.user_count),
                "groups": number(connection.group_count),
            },
            sync_status=sync_status(connection, now) if syncing else "",
            request_chart=charts.request_chart(series.request_series(connection, now)),
            directory_chart=charts.directory_chart(
                series.directory_series(
                    connection, now, connection.user_count, connection.group_count
                )
            ),
        )


def sync_status(connection: Any, now: datetime) -> str:
    """The first-sync indicator: "1,240 users, 12 groups so far; last change 20 seconds
    ago" (annotate counts and :func:`.series.with_directory_changes`)."""
    users = ngettext("%(count)s user", "%(count)s users", connection.user_count) % {
        "count": number(connection.user_count)
    }
    groups = ngettext("%(count)s group", "%(count)s groups", connection.group_count) % {
        "count": number(connection.group_count)
    }
    # Translators: shown while an identity provider sends a connection's directory for
    # the first time, e.g. "1,240 users, 12 groups so far; last change 20 seconds ago".
    return gettext("%(users)s, %(groups)s so far; last change %(ago)s.") % {
        "users": users,
        "groups": groups,
        "ago": ago(connection.last_change_at, now),
    }


class ConnectionDeleteView(PortalView):
    permission = permissions.DELETE
    template_name = "scim_portal/portal/connection_delete.html"
    tab = "delete"

    def get(self, request: HttpRequest) -> HttpResponse:
        assert self.connection is not None
        return self.render(form=DeleteConnectionForm(), preview=deletion_preview(self.connection))

    def post(self, request: HttpRequest) -> HttpResponse:
        self.require(permissions.DELETE)
        assert self.connection is not None
        form = DeleteConnectionForm(request.POST)
        form.is_valid()
        remove = bool(form.cleaned_data.get("remove_directory"))
        result = delete_connection(self.connection, remove_directory=remove, actor=self.actor)
        words = {
            "name": self.connection.name,
            "users": ngettext("%(count)s user", "%(count)s users", result.users)
            % {"count": number(result.users)},
            "groups": ngettext("%(count)s group", "%(count)s groups", result.groups)
            % {"count": number(result.groups)},
        }
        if remove:
            text = gettext("Deleted “%(name)s” with %(users)s and %(groups)s.")
        else:
            text = gettext(
                "Deleted “%(name)s” with %(users)s and %(groups)s. Their accounts were kept."
            )
        messages.success(request, text % words)
        return HttpResponseRedirect(self.url("connection-list"))


# Directory


class UserListView(PortalView):
    template_name = "scim_portal/portal/users.html"
    tab = "users"

    def get(self, request: HttpRequest) -> HttpResponse:
        assert self.connection is not None
        query = request.GET.get("q", "").strip()
        link = request.GET.get("link", "")
        users = DirectoryUser.objects.filter(connection=self.connection).order_by("user_name")
        if query:
            users = users.filter(
                Q(user_name__icontains=query)
                | Q(display_name__icontains=query)
                | Q(email__icontains=query)
                | Q(external_id=query)
            )
        pending = [HostLink.AWAITING, HostLink.BLOCKED]  # alike to the tenant (HostLink.public)
        if link == "pending":
            users = users.filter(host_link__in=pending)
        users = users.annotate(group_count=Count("directory_groups"))
        page = _page(request, users)
        if self.connection.out_of_domain_policy == EmailDomainPolicy.FLAG:
            verified = verified_domains(self.account)
            for user in page:
                user.outside_domains = bool(user.email) and domain_of(user.email) not in verified
        return self.render(
            page=page,
            query=query,
            link=link,
            awaiting=DirectoryUser.objects.filter(
                connection=self.connection, host_link__in=pending
            ).count(),
        )


class UserDetailView(PortalView):
    template_name = "scim_portal/portal/user_detail.html"
    tab = "users"

    def get(self, request: HttpRequest, user_id: Any) -> HttpResponse:
        user = self.owned(DirectoryUser.objects.select_related("host_user"), user_id, "user")
        groups = user.directory_groups.order_by("display_name")
        return self.render(directory_user=user, groups=groups)


class GroupListView(PortalView):
    template_name = "scim_portal/portal/groups.html"
    tab = "groups"

    def get(self, request: HttpRequest) -> HttpResponse:
        query = request.GET.get("q", "").strip()
        groups = DirectoryGroup.objects.filter(connection=self.connection).order_by("display_name")
        if query:
            groups = groups.filter(Q(display_name__icontains=query) | Q(external_id=query))
        role = RoleMapping.objects.filter(group=OuterRef("pk")).values("role")[:1]
        groups = groups.annotate(member_count=Count("groupmembership"), role=Subquery(role))
        return self.render(page=_page(request, groups), query=query)


class GroupDetailView(PortalView):
    template_name = "scim_portal/portal/group_detail.html"
    tab = "groups"

    def get(self, request: HttpRequest, group_id: Any) -> HttpResponse:
        group = self.owned(DirectoryGroup.objects, group_id, "group")
        members = (
            GroupMembership.objects.filter(group=group)
            .select_related("user")
            .order_by("user__user_name")
        )
        mapping = RoleMapping.objects.filter(group=group).first()
        return self.render(group=group, page=_page(request, members), mapping=mapping)


# Request log and activity


class RequestLogView(PortalView):
    template_name = "scim_portal/portal/logs.html"
    tab = "logs"
    FILTERS = {"all": Q(), "errors": Q(status__gte=400), "success": Q(status__lt=400)}

    def get(self, request: HttpRequest) -> HttpResponse:
        selected = request.GET.get("status", "all")
        if selected not in self.FILTERS:
            selected = "all"
        logs = (
            RequestLog.objects.filter(connection=self.connection)
            .filter(self.FILTERS[selected])
            .defer("request_body", "response_body")
        )
        page = _page(request, logs)
        for entry in page:
            describe_source(entry)
        return self.render(page=page, selected=selected)


def describe_source(entry: RequestLog) -> RequestLog:
    """Give ``entry`` what the log's "From" shows: ``idp_name`` (the provider its
    User-Agent names, or ""), ``credential_label`` (the credential's kind) and
    ``credential_shown`` (what tells it apart: a prefix, with "…" where it is cut)."""
    provider = PROVIDERS.get(entry.idp)
    entry.idp_name = provider.name if provider is not None else ""  # type: ignore[attr-defined]
    kinds = dict(CredentialKind.choices)
    entry.credential_label = kinds.get(entry.credential_kind, entry.credential_kind)  # type: ignore[attr-defined]
    # A Basic username is whole; anything else is a secret's or token's first characters.
    whole = entry.credential_kind == "basic" or not entry.token_prefix
    shown = entry.token_prefix if whole else f"{entry.token_prefix}…"
    entry.credential_shown = shown  # type: ignore[attr-defined]
    return entry


class RequestLogDetailView(PortalView):
    template_name = "scim_portal/portal/log_detail.html"
    tab = "logs"

    def get(self, request: HttpRequest, log_id: int) -> HttpResponse:
        entry = describe_source(self.owned(RequestLog.objects, log_id, "request"))
        return self.render(entry=entry, explanation=explanations.explain(entry))


class ActivityView(PortalView):
    template_name = "scim_portal/portal/activity.html"
    tab = "activity"

    def get(self, request: HttpRequest) -> HttpResponse:
        events = ProvisioningEvent.objects.filter(connection=self.connection).order_by("-number")
        return self.render(page=_page(request, events))


# Settings: policies and role mapping


class SettingsView(PortalView):
    template_name = "scim_portal/portal/settings.html"
    tab = "settings"

    def roles(self) -> list[tuple[str, str]]:
        return get_adapter().list_roles(self.account)

    def forms(self, data: Any = None, which: str = "") -> dict[str, Any]:
        assert self.connection is not None
        roles = self.roles()
        initial = {
            "name": self.connection.name,
            "default_role": self.connection.default_role,
            "link_policy": self.connection.link_policy,
            "deprovision_policy": self.connection.deprovision_policy,
            "out_of_domain_policy": self.connection.out_of_domain_policy,
            "access_token_lifetime": self.connection.access_token_lifetime // 60,
            "brake_enabled": "on" if self.connection.brake_enabled else "off",
            "brake_percent": self.connection.brake_percent,
            "brake_minimum": self.connection.brake_minimum,
        }
        return {
            "settings_form": SettingsForm(
                data if which == "settings" else None, initial=initial, roles=roles
            ),
            "mapping_form": RoleMappingForm(
                data if which == "mapping" else None, connection=self.connection, roles=roles
            ),
            "mappings": RoleMapping.objects.filter(connection=self.connection).select_related(
                "group"
            ),
            "roles": dict(roles),
            "access_token_minutes": self.connection.access_token_lifetime // 60,
        }

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(**self.forms())

    def post(self, request: HttpRequest) -> HttpResponse:
        self.require(permissions.CREATE)
        assert self.connection is not None
        which = request.POST.get("form", "")
        forms = self.forms(request.POST, which)
        if which == "settings" and forms["settings_form"].is_valid():
            directory.update_connection_settings(
                self.connection, actor=self.actor, **forms["settings_form"].cleaned_data
            )
            messages.success(
                request, gettext("Settings saved; roles were recomputed where needed.")
            )
        elif which == "mapping" and forms["mapping_form"].is_valid():
            data = forms["mapping_form"].cleaned_data
            directory.set_role_mapping(
                self.connection, data["group"], data["role"], precedence=data["precedence"],
                actor=self.actor,
            )  # fmt: skip
            messages.success(
                request,
                gettext("Members of “%(group)s” now get the role %(role)s.")
                % {"group": data["group"], "role": data["role"]},
            )
        elif which == "unmap":
            group = self.owned(DirectoryGroup.objects, request.POST.get("group", ""), "group")
            directory.remove_role_mapping(self.connection, group, actor=self.actor)
            messages.success(
                request, gettext("“%(group)s” no longer gives a role.") % {"group": group}
            )
        else:
            return self.render(status=400, **forms)
        return HttpResponseRedirect(self.url("settings", self.connection.pk))
