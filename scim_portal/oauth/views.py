"""The token endpoint and the authorisation page of SCIM connections' OAuth server.

The token endpoint answers in RFC 6749 JSON whatever happens: its own errors (section
5.2), ``429`` with ``Retry-After`` past ``TOKEN_RATE_LIMIT_PER_MINUTE`` (per client
address and per client id), ``503`` when the database is away. Each request it can
tie to a connection goes into that connection's request log, without any secret.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from .. import permissions
from .._addresses import client_address, forwarded_hop, rate_limit_key
from ..conf import app_settings, get_account_model
from ..models import Connection, RequestLog
from ..providers import provider_for_user_agent
from ..scim.limits import count_request
from .clients import ApplicationClient, ConnectionClient
from .grants import Consent
from .server import current_request, server

logger = logging.getLogger("scim_portal.oauth")

#: Characters of a credential's prefix the request log keeps.
_PREFIX_LENGTH = RequestLog._meta.get_field("token_prefix").max_length or 40
#: Form fields of a token request that Django's error reports must not show.
SECRET_PARAMETERS = ("client_secret", "client_assertion", "code", "code_verifier", "refresh_token")


def oauth_error(error: str, description: str, status: int, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _client_id_of(request: HttpRequest) -> str:
    """The client id the request names (Basic header, else the form), unverified."""
    try:
        client_id, _ = extract_basic_authorization(request.headers)
    except ValueError:  # not UTF-8: refused by the server's checks
        client_id = None
    return str(client_id or request.POST.get("client_id") or "")[:40]


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(never_cache, name="dispatch")
@method_decorator(sensitive_post_parameters(*SECRET_PARAMETERS), name="dispatch")
class TokenView(View):
    """``POST`` the token endpoint: client credentials (secret or assertion),
    authorization code and refresh token grants."""

    http_method_names = ["post", "options"]

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        return oauth_error(
            "invalid_request",
            "The token endpoint takes POST requests.",
            405,
            Allow="POST, OPTIONS",
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        # The thread's previous request must not be taken for this one (the request log).
        current_request.set(None)
        limit = app_settings.TOKEN_RATE_LIMIT_PER_MINUTE
        wait = count_request(f"token-address:{rate_limit_key(forwarded_hop(request))}", limit)
        try:
            client_id = _client_id_of(request)
        except RequestDataTooBig:
            return oauth_error("invalid_request", "The request body is too large.", 413)
        except (SuspiciousOperation, MultiPartParserError):  # too many fields, no boundary…
            return oauth_error(
                "invalid_request", "The request body is not a form this accepts.", 400
            )
        if wait is None and client_id:
            # Hashed: a client id is the client's text, and some caches refuse some keys.
            key = hashlib.sha256(client_id.encode()).hexdigest()[:32]
            wait = count_request(f"token-client:{key}", limit)
        if wait is not None:
            response = oauth_error(
                "slow_down",
                f"More than {limit} token requests a minute; retry later.",
                429,
                Retry_After=str(wait),
            )
        else:
            try:
                response = server.create_token_response(request)
            except OAuth2Error:  # raised before Authlib answers: plain http
                return oauth_error(
                    "invalid_request",
                    "The token endpoint takes https requests only (behind a proxy that ends "
                    "TLS, set Django's SECURE_PROXY_SSL_HEADER).",
                    400,
                )
            except DatabaseError as exc:
                logger.warning("The token endpoint could not reach the database: %s", exc)
                return oauth_error(
                    "temporarily_unavailable",
                    "The service cannot reach its database; retry shortly.",
                    503,
                    Retry_After="5",
                )
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        _log(request, response, client_id, (time.perf_counter() - started) * 1000)
        return response


def _log(request: HttpRequest, response: HttpResponse, client_id: str, ms: float) -> None:
    """A request-log row for the connection this request is about, if any; never raises,
    and keeps no body (either one may hold a secret or a token)."""
    try:
        oauth_request = current_request.get(None)
        connection, credential, access = _subject(oauth_request, client_id)
        if connection is None:
            return
        detail = ""
        if response.status_code >= 400:
            try:
                body = json.loads(response.content)
                detail = f"{body.get('error', '')}: {body.get('error_description', '')}"
            except ValueError:
                detail = ""
        user_agent = request.META.get("HTTP_USER_AGENT", "")[:512]
        # A federated subject or an application's name may be longer than the column.
        shown = access or (credential.prefix if credential is not None else "")
        RequestLog.objects.insert(
            RequestLog(
                connection_id=connection.pk,
                method="POST",
                path=request.path[:2048],
                status=response.status_code,
                duration_ms=round(ms, 3),
                scim_type="",
                detail=detail[:2000],
                user_agent=user_agent,
                source_ip=client_address(request),
                idp=provider_for_user_agent(user_agent),
                credential_kind=credential.kind if credential is not None else "",
                token_prefix=shown[:_PREFIX_LENGTH],
                request_id=str(request.headers.get("X-Request-ID", ""))[:128],
            )
        )
    except Exception:
        logger.exception("Could not record a token request in the request log")


def _subject(oauth_request: Any, client_id: str) -> tuple[Connection | None, Any, str]:
    """The connection, credential and new access token's prefix a request was about."""
    client = getattr(oauth_request, "client", None) if oauth_request is not None else None
    if isinstance(client, ConnectionClient):
        return client.connection, client.credential, ""
    code = getattr(oauth_request, "authorization_code", None)
    if isinstance(client, ApplicationClient) and code is not None:
        return code.row.connection, code.row.credential, ""
    federated = getattr(oauth_request, "federated_issuer", None)
    if federated is not None:  # an assertion of a known issuer, refused
        return federated.connection, federated, ""
    refresh = getattr(oauth_request, "refresh_token", None)
    if refresh is not None:
        credential = refresh.token.credential
        return credential.connection, credential, ""
    if client_id and "\x00" not in client_id:
        return Connection.objects.filter(oauth_client_id=client_id).first(), None, ""
    return None, None, ""


@method_decorator(xframe_options_deny, name="dispatch")
@method_decorator(csrf_protect, name="dispatch")
@method_decorator(never_cache, name="dispatch")
class AuthorizeView(LoginRequiredMixin, View):
    """The authorisation page of the authorization code flow (Okta's OAuth option).

    A signed-in person with the create permission on an account picks one of that
    account's connections; the application then gets a code for that connection only.
    A request naming an unknown client or a redirect URI it did not register is
    answered here (400) and never redirected; any other invalid request, and a "Deny",
    goes back to the client's redirect URI with an RFC 6749 ``error``. The page is
    never cached nor framed, and its form is CSRF-protected.

    The query may carry our own hint, ``connection=<id>`` (an Okta app can put it in
    the authorize URL it is given): when that connection is one the person may
    authorise, it is chosen for them; any other value is ignored, so the page never
    tells whether someone else's connection exists. The hint is no OAuth parameter
    and never goes back to the client.
    """

    #: The query parameter naming the connection to choose.
    hint_parameter = "connection"

    template_name = "scim_portal/oauth/authorize.html"

    def _grant(self, request: HttpRequest) -> Any:
        return server.get_consent_grant(request, end_user=request.user)

    def connections(self, request: HttpRequest) -> list[Connection]:
        """Connections of every account where the person holds the create permission
        (as :func:`~scim_portal.permissions.has_account_perm` answers it)."""
        from guardian.shortcuts import get_objects_for_user

        accounts = get_objects_for_user(
            request.user,
            permissions.perm_name(permissions.CREATE),
            klass=get_account_model(),
            accept_global_perms=False,
        )
        candidates = (
            Connection.objects.filter(account__in=accounts, deleting_since__isnull=True)
            .select_related("account")
            .order_by("account_id", "name")[:500]
        )
        allowed: dict[Any, bool] = {}
        for connection in candidates:
            if connection.account_id not in allowed:
                allowed[connection.account_id] = permissions.has_account_perm(
                    request.user, permissions.CREATE, connection.account
                )
        return [c for c in candidates if allowed[c.account_id]]

    def _page(
        self, request: HttpRequest, grant: Any, connections: list[Connection], **extra: Any
    ) -> HttpResponse:
        status = extra.pop("status", 200)
        context = {
            "application": grant.client.application,
            "connections": connections,
            "scope": grant.request.scope or "",
            "return_host": urlsplit(grant.redirect_uri).netloc,
            **extra,
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            grant = self._grant(request)
        except OAuth2Error as error:
            return self._invalid(request, error)
        connections = self.connections(request)
        hint = request.GET.get(self.hint_parameter, "")
        chosen = next((c for c in connections if str(c.pk) == hint), None)
        return self._page(request, grant, connections, chosen=chosen)

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            grant = self._grant(request)
        except OAuth2Error as error:
            return self._invalid(request, error)
        if request.POST.get("decision") != "allow":
            return server.create_authorization_response(request, grant_user=None, grant=grant)
        allowed = {str(c.pk): c for c in self.connections(request)}
        connection = allowed.get(request.POST.get("connection", ""))
        if connection is None:
            return self._page(
                request,
                grant,
                list(allowed.values()),
                error=gettext(
                    "Choose a connection of an account where you may create provisioning."
                ),
                status=403,
            )
        return server.create_authorization_response(
            request, grant_user=Consent(request.user, connection), grant=grant
        )

    def _invalid(self, request: HttpRequest, error: OAuth2Error) -> HttpResponse:
        """An invalid request: back to the client when Authlib has checked the client
        and its redirect URI (RFC 6749 section 4.1.2.1), else a page here."""
        if error.redirect_uri:
            return server.handle_error_response(request, error)
        # The page shows the OAuth error's own description (protocol text, in English),
        # but for the one about this page, which is the host operator's to fix.
        description = error.description
        if isinstance(error, InsecureTransportError):
            description = gettext(
                "The authorisation page takes https requests only (behind a proxy that ends "
                "TLS, set Django's SECURE_PROXY_SSL_HEADER)."
            )
        return render(
            request,
            "scim_portal/oauth/authorize_error.html",
            {"error": error.error, "description": description},
            status=400,
        )
