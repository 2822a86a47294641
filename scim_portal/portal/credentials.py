"""Credentials in the Provisioning tab: the create form (a connection and its first
credential, or none for a provider's authorisation), the Credentials page (issue,
rotate with overlap, revoke, every kind), the page that shows a new credential once,
and the page that says how to authorise a connection created for an authorisation.

What a credential looks like to a tenant admin is its provider's: the methods its
provisioning form offers, and that form's fields in its order, with its labels, all
read from the catalogue (:mod:`scim_portal.providers`). Issuing needs ``create``
provisioning, revoking ``delete``, as for bearer tokens before.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import permissions
from ..models import AccessToken, Credential, CredentialKind, IssuedCredential, OAuthApplication
from ..providers import PROVIDERS, AuthMethod, Field, Provider, Value
from ..provisioning import create_connection, issue_credential, revoke_credential
from .forms import FEDERATED_FIELDS, ConnectionForm, IssueCredentialForm
from .views import PortalView, claim_nonce, release_nonce, remember_nonce

#: What this app's token endpoint accepts besides ``client_secret_basic``.
OTHER_CLIENT_AUTH_METHOD = "client_secret_post"
#: The scope to give where a form asks for one; the token endpoint grants any.
SCOPE = "scim"


@dataclass(frozen=True)
class ShownField:
    """One field of the provider's form with what to put in it, on a page."""

    label: str
    id: str
    value: str
    secret: bool = False
    note: str = ""
    #: Given by the vendor (its OAuth application's), not by this connection.
    vendor: bool = False


def shown_fields(fields: tuple[Field, ...], values: dict[Value, str]) -> list[ShownField]:
    """``fields`` of a provider's form with their values, in its order."""
    shown = []
    for index, field in enumerate(fields):
        note = field.text
        if field.value == Value.FIXED:
            value, note, id_ = field.text, gettext("Choose this."), f"scim-fixed-{index}"
        else:
            name = "url" if field.value == Value.SCIM_URL else field.value.replace("_", "-")
            value, id_ = values.get(field.value, ""), f"scim-{name}"
        if field.value == Value.CLIENT_AUTH_METHOD:
            note = gettext("%(method)s works as well.") % {"method": OTHER_CLIENT_AUTH_METHOD}
        elif field.value == Value.SCOPE:
            note = gettext("Any scope is accepted; you may leave it empty.")
        elif field.value == Value.JWKS_URL and not value:
            note = gettext("None: the keys are found through the issuer's OpenID configuration.")
        elif field.value == Value.FROM_VENDOR:
            note = gettext("From the vendor's OAuth application, registered by its staff.")
        vendor = field.value == Value.FROM_VENDOR
        shown.append(ShownField(str(field.label), id_, value, field.value.is_secret, note, vendor))
    return shown


def _with_kind_name(provider: Provider, credentials: Any) -> list[Any]:
    rows = list(credentials)
    for credential in rows:
        method = provider.method(credential.kind)
        credential.method_name = str(method.name if method else credential.get_kind_display())
    return rows


def _add_service_error(form: Any, message: str) -> None:
    """Show a service's ``ValueError`` at the field it is about, else above the form."""
    lowered = message.lower()
    field: str | None = None
    if "jwks" in lowered:
        field = Value.JWKS_URL
    elif "issuer" in lowered and "subject" not in lowered:
        field = Value.ISSUER
    elif "expiry" in lowered:
        field = "expires_at"
    form.add_error(field if field in form.fields else None, message)


def _federated(data: dict[str, Any]) -> dict[str, str]:
    return {name: data.get(name) or "" for name in FEDERATED_FIELDS}


class CredentialPage(PortalView):
    """Base: the provider's methods, the token endpoint, and the page that shows a new
    credential once."""

    @property
    def provider(self) -> Provider:
        assert self.connection is not None
        return self.connection.provider_info

    def render_issued(self, issued: IssuedCredential, *, created: bool) -> HttpResponse:
        """The page that shows a new credential once: the provider's fields, in its
        order, with its labels. Never cached, never shown again."""
        assert self.connection is not None
        credential = issued.credential
        method = self.provider.method_or_generic(credential.kind)
        values = self.values(credential, issued.raw)
        response = self.render(
            "scim_portal/portal/issued.html",
            method=method,
            fields=shown_fields(method.fields, values),
            trusts=shown_fields(method.shows, values),
            credential=credential,
            created=created,
            guide=self.provider.guide_template,
        )
        add_never_cache_headers(response)
        return response

    def render_authorization_setup(self, method: AuthMethod) -> HttpResponse:
        """The page after creating a connection for the provider's authorisation
        ``method``: what the provider's form asks for, in its order and with its labels,
        where its Client ID and Client Secret come from, and how to authorise. It holds
        no secret."""
        assert self.connection is not None
        return self.render(
            "scim_portal/portal/authorization_setup.html",
            method=method,
            fields=shown_fields(method.fields, self.values()),
            hinted_authorize_endpoint=(
                f"{self.oauth_urls()['authorize_endpoint']}?connection={self.connection.pk}"
            ),
            applications=self.applications(),
            guide=self.provider.guide_template,
        )

    def values(self, credential: Credential | None = None, raw: str = "") -> dict[Value, str]:
        """What goes into each field of the provider's form for ``credential``."""
        urls = self.oauth_urls()
        values = {
            Value.TOKEN_ENDPOINT: urls["token_endpoint"],
            Value.AUTHORIZE_ENDPOINT: urls["authorize_endpoint"],
            Value.CLIENT_AUTH_METHOD: "client_secret_basic",
            Value.SCOPE: SCOPE,
        }
        if self.connection is not None:
            values[Value.SCIM_URL] = self.scim_url()
            values[Value.CLIENT_ID] = self.connection.oauth_client_id or ""
        if credential is not None:
            secret = {
                CredentialKind.BEARER: Value.TOKEN,
                CredentialKind.BASIC: Value.PASSWORD,
                CredentialKind.CLIENT_SECRET: Value.CLIENT_SECRET,
            }.get(credential.kind)  # type: ignore[call-overload]
            if secret is not None:
                values[secret] = raw
            values[Value.USERNAME] = credential.username or ""
            values[Value.ISSUER] = credential.issuer
            values[Value.SUBJECT] = credential.subject
            values[Value.AUDIENCE] = credential.audience
            values[Value.JWKS_URL] = credential.jwks_url
        return values

    def issue_form(self, data: Any = None) -> IssueCredentialForm:
        return IssueCredentialForm(
            data,
            initial={"nonce": uuid.uuid4().hex},
            provider=self.provider,
            audience=self.oauth_urls()["token_endpoint"],
        )

    def render_list(self, form: IssueCredentialForm, *, status: int = 200) -> HttpResponse:
        assert self.connection is not None
        credentials = (
            Credential.objects.filter(connection=self.connection)
            .select_related("created_by")
            .order_by("-created_at")
        )
        authorization = self.provider.method("authorization")
        return self.render(
            "scim_portal/portal/credentials.html",
            status=status,
            credentials=_with_kind_name(self.provider, credentials),
            form=form,
            oauth_client=shown_fields(
                (
                    Field(_("Client ID"), Value.CLIENT_ID),
                    Field(_("Token endpoint"), Value.TOKEN_ENDPOINT),
                ),
                self.values(),
            )
            if self.connection.oauth_client_id
            else [],
            authorization=authorization,
            authorization_fields=self.authorization_fields(authorization),
            applications=self.applications() if authorization else [],
            access_token_minutes=self.connection.access_token_lifetime // 60,
        )

    def authorization_fields(self, method: AuthMethod | None) -> list[ShownField]:
        """The endpoints of the provider's authorisation method, in its words."""
        if method is None:
            return []
        endpoints = (Value.TOKEN_ENDPOINT, Value.AUTHORIZE_ENDPOINT)
        fields = tuple(field for field in method.fields if field.value in endpoints)
        return shown_fields(fields, self.values())

    @staticmethod
    def applications() -> list[OAuthApplication]:
        """The vendor's OAuth applications a tenant admin may authorise."""
        return list(OAuthApplication.objects.filter(revoked_at__isnull=True).order_by("name"))


class ConnectionCreateView(CredentialPage):
    """A new connection and its first credential, of a method its provider offers.

    Works without JavaScript: choosing another provider and "Show its methods"
    (which the script presses on change) redraws the form for it, keeping the name.
    """

    permission = permissions.CREATE
    template_name = "scim_portal/portal/connection_form.html"

    def chosen_provider(self, key: str) -> Provider:
        return PROVIDERS.get(key) or next(iter(PROVIDERS.values()))

    def form(self, data: Any = None, **initial: Any) -> ConnectionForm:
        provider = self.chosen_provider((data or initial).get("provider", ""))
        return ConnectionForm(
            data,
            initial={"nonce": uuid.uuid4().hex, **initial, "provider": provider.key},
            provider=provider,
            audience=self.oauth_urls()["token_endpoint"],
            applications=self.applications() if provider.method("authorization") else (),
        )

    def render_form(self, form: ConnectionForm, *, status: int = 200) -> HttpResponse:
        return self.render(
            form=form,
            status=status,
            chosen=form.identity_provider,
            authorization=form.authorization,
            applications=form.applications,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_form(self.form(provider=request.GET.get("provider", "")))

    def post(self, request: HttpRequest) -> HttpResponse:
        self.require(permissions.CREATE)
        if "refresh" in request.POST:
            kept = {name: request.POST.get(name, "") for name in ("name", "provider", "nonce")}
            return self.render_form(self.form(**{k: v for k, v in kept.items() if v}))
        form = self.form(request.POST)
        if not form.is_valid():
            return self.render_form(form, status=400)
        data = form.cleaned_data
        nonce = data["nonce"]
        # The provider obtains an authorisation itself: no credential is issued here.
        kind = None if data["method"] == CredentialKind.AUTHORIZATION else data["method"]
        if claim_nonce(nonce, "") is not None:
            messages.info(
                request,
                gettext("That connection was already created.")
                if kind is None
                else gettext("That connection was already created; its secret is not shown again."),
            )
            return HttpResponseRedirect(self.url("connection-list"))
        federated = _federated(data) if kind == CredentialKind.FEDERATED else {}
        try:
            connection, issued = create_connection(
                account=self.account,
                name=data["name"],
                provider=data["provider"],
                created_by=request.user,
                actor=self.actor,
                credential_kind=kind,
                **federated,
            )
        except ValueError as exc:
            release_nonce(nonce)
            _add_service_error(form, str(exc))
            return self.render_form(form, status=400)
        except BaseException:
            release_nonce(nonce)  # nothing was created: the form may be sent again
            raise
        remember_nonce(nonce, str(connection.pk))
        self.connection = connection
        if issued is None:
            assert form.authorization is not None
            return self.render_authorization_setup(form.authorization)
        return self.render_issued(issued, created=True)


class CredentialListView(CredentialPage):
    """The Credentials tab: every credential of the connection, of every kind."""

    tab = "credentials"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_list(self.issue_form())


class CredentialIssueView(CredentialPage):
    """Issue a credential of any issuable kind; the others keep working."""

    tab = "credentials"

    def post(self, request: HttpRequest) -> HttpResponse:
        self.require(permissions.CREATE)
        assert self.connection is not None
        form = self.issue_form(request.POST)
        if not form.is_valid():
            return self.render_list(form, status=400)
        data = form.cleaned_data
        if claim_nonce(data["nonce"], "issued") is not None:
            messages.info(
                request, gettext("That credential was already issued; it is not shown again.")
            )
            return HttpResponseRedirect(self.url("tokens", self.connection.pk))
        try:
            issued = issue_credential(
                self.connection,
                data["kind"],
                label=data["label"],
                expires_at=data["expires_at"],
                created_by=request.user,
                actor=self.actor,
                **_federated(data),
            )
        except ValueError as exc:
            release_nonce(data["nonce"])
            _add_service_error(form, str(exc))
            return self.render_list(form, status=400)
        except BaseException:
            release_nonce(data["nonce"])  # nothing was issued: the form may be sent again
            raise
        self.connection.refresh_from_db(fields=["oauth_client_id"])
        return self.render_issued(issued, created=False)


class CredentialRevokeView(CredentialPage):
    """Asks, then revokes a credential at once, with every access token it obtained."""

    permission = permissions.DELETE
    tab = "credentials"
    template_name = "scim_portal/portal/credential_revoke.html"

    def get(self, request: HttpRequest, token_id: int) -> HttpResponse:
        credential = self.credential(token_id)
        now = timezone.now()
        others = (
            Credential.objects.usable(now)
            .filter(connection=self.connection)
            .exclude(pk=credential.pk)
        )
        return self.render(
            credential=credential,
            access_tokens=AccessToken.objects.filter(
                credential=credential, revoked_at__isnull=True, expires_at__gt=now
            ).count(),
            last_usable=credential.is_usable and not others.exists(),
        )

    def post(self, request: HttpRequest, token_id: int) -> HttpResponse:
        self.require(permissions.DELETE)
        assert self.connection is not None
        credential = self.credential(token_id)
        revoke_credential(credential, actor=self.actor)
        messages.success(
            request,
            # Translators: e.g. "Revoked HTTP Header scimp_1a2b3c4d…; it stopped working at once."
            gettext("Revoked %(method)s %(credential)s; it stopped working at once.")
            % {"method": credential.method_name, "credential": credential.display},
        )
        return HttpResponseRedirect(self.url("tokens", self.connection.pk))

    def credential(self, token_id: int) -> Any:
        credential = self.owned(Credential.objects, token_id, "credential")
        return _with_kind_name(self.provider, [credential])[0]
