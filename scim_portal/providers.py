"""The identity providers a connection can be made for: who each one is, and how each
one authenticates to a SCIM app.

This catalogue sits below every layer: the models, portal, admin, API and the
management command read it for the provider choice, the SCIM URL a provider is
given (Entra ID's ends in a flag), its setup guide, and the authentication methods
its provisioning form offers, each with that form's fields in its order and with its
labels. What each provider's SCIM client sends and expects back is protocol, and
lives with the protocol: one module per provider in :mod:`scim_portal.scim.providers`.

Where each provider's methods and labels come from (its documentation):

- Microsoft Entra ID: "Tutorial: Develop and plan provisioning for a SCIM endpoint"
  (Tenant URL, Secret Token; no username and password for new apps), "Configure
  workload identity-based authentication" (Token issuer, JWKS URI, Subject,
  Audience shown; Client identifier and token endpoint asked back), and its OAuth2
  Client Credentials Grant (Token Endpoint, Client Identifier, Client Secret,
  client authentication method, Scope).
- Okta: "Add SCIM provisioning to app integrations": Authentication Mode Basic Auth
  (Username, Password), HTTP Header (Authorization: Bearer) or OAuth 2 (Access token
  endpoint URI, Authorization endpoint URI, Client ID, Client Secret; then
  "Authenticate with" the app).
- OneLogin: the SCIM Provisioner connectors ask for SCIM Base URL and SCIM Bearer
  Token; their documentation names no other method.
- JumpCloud: "Identity Management using a Custom SCIM Integration": Base URL and
  Token Key (a SCIM API key or bearer token).
- PingOne: "Creating a SCIM connection": Basic Authentication, OAuth 2 Bearer Token
  or OAuth 2 Client Credentials, recommending either OAuth method over Basic.
- Google Workspace provisions only apps of its own catalogue; its documentation
  names no method for others: a bearer token.
- Any other SCIM 2.0 client: RFC 7644 section 2 leaves authentication to HTTP (Basic,
  OAuth 2.0 bearer tokens); every method this app issues is offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

#: Kinds of credential (``scim_portal.models.CredentialKind`` values; the models import
#: this module, so it names them as strings).
CredentialKindName = Literal["bearer", "basic", "client_secret", "federated", "authorization"]


class Value(StrEnum):
    """What goes into one field of a provider's form."""

    SCIM_URL = "scim_url"
    TOKEN = "token"  # noqa: S105  (names of fields, not secrets)
    USERNAME = "username"
    PASSWORD = "password"  # noqa: S105
    TOKEN_ENDPOINT = "token_endpoint"  # noqa: S105
    AUTHORIZE_ENDPOINT = "authorize_endpoint"
    CLIENT_ID = "client_id"
    CLIENT_SECRET = "client_secret"  # noqa: S105
    #: ``client_secret_basic`` (``client_secret_post`` works as well).
    CLIENT_AUTH_METHOD = "client_auth_method"
    SCOPE = "scope"
    ISSUER = "issuer"
    SUBJECT = "subject"
    AUDIENCE = "audience"
    JWKS_URL = "jwks_url"
    #: The client id or secret of the vendor's OAuth application, given by the vendor.
    FROM_VENDOR = "from_vendor"
    #: A choice the form offers, to set as the field's ``text`` says.
    FIXED = "fixed"

    @property
    def is_secret(self) -> bool:
        """Shown once, when issued, and never again."""
        return self in (Value.TOKEN, Value.PASSWORD, Value.CLIENT_SECRET)


@dataclass(frozen=True)
class Field:
    """One field of a provider's form, as that form labels it (in the active language,
    as the provider's own localised form labels it)."""

    label: StrOrPromise
    value: Value
    #: The text to choose (``FIXED``), or a word on how to fill it in.
    text: str = ""
    optional: bool = False


@dataclass(frozen=True)
class AuthMethod:
    """One authentication method a provider's SCIM form offers."""

    kind: CredentialKindName
    #: The provider's name for it, as its form offers it.
    name: StrOrPromise
    #: What the provider's form asks for, in its order.
    fields: tuple[Field, ...]
    #: What the provider shows that this app must be told (a federated issuer's
    #: issuer, subject, audience and keys), in the provider's order.
    shows: tuple[Field, ...] = ()
    #: For an authorisation: the button of the provider's form that starts it, as
    #: the form labels it ("…" stands for the app's name).
    start_button: StrOrPromise = ""

    @property
    def issuable(self) -> bool:
        """Whether a person issues it (an authorisation comes from the consent page)."""
        return self.kind != "authorization"


@dataclass(frozen=True)
class Provider:
    """An identity provider that can provision over SCIM 2.0."""

    key: str
    name: str
    #: Appended to the SCIM base URL shown to the tenant admin for this provider.
    url_suffix: str = ""
    #: Lower-case fragments of the User-Agent header this provider's SCIM client sends.
    user_agent_markers: tuple[str, ...] = ()
    #: The authentication methods its form offers, in its order.
    methods: tuple[AuthMethod, ...] = ()
    #: The kind of the method it recommends today (the form's default).
    recommended: CredentialKindName = "bearer"

    def __post_init__(self) -> None:
        kinds = [method.kind for method in self.methods]
        if len(set(kinds)) != len(kinds) or self.recommended not in kinds:
            raise ValueError(f"{self.key}: one method per kind, the recommended one among them")

    @property
    def guide_template(self) -> str:
        """The template of this provider's setup guide, shown with the connection."""
        return f"scim_portal/guides/{self.key}.html"

    @property
    def default_method(self) -> AuthMethod:
        """The method this provider recommends today."""
        method = self.method(self.recommended)
        assert method is not None
        return method

    @property
    def issuable_methods(self) -> tuple[AuthMethod, ...]:
        return tuple(method for method in self.methods if method.issuable)

    @property
    def scim_url_label(self) -> str:
        """What this provider's form calls the SCIM base URL, in the active language."""
        for field in self.default_method.fields:
            if field.value == Value.SCIM_URL:
                return str(field.label)
        return str(_("SCIM base URL"))

    def method(self, kind: str) -> AuthMethod | None:
        """This provider's method of ``kind``, or None."""
        return next((method for method in self.methods if method.kind == kind), None)

    def method_or_generic(self, kind: str) -> AuthMethod:
        """This provider's method of ``kind``, or a generic SCIM client's."""
        method = self.method(kind) or PROVIDERS["generic"].method(kind)
        if method is None:
            raise ValueError(f"No authentication method of kind {kind!r}.")
        return method


def _bearer(name: StrOrPromise, url: StrOrPromise, token: StrOrPromise) -> AuthMethod:
    return AuthMethod("bearer", name, (Field(url, Value.SCIM_URL), Field(token, Value.TOKEN)))


def _basic(
    name: StrOrPromise,
    url: StrOrPromise,
    username: StrOrPromise,
    password: StrOrPromise,
    *extra: Field,
) -> AuthMethod:
    fields = (Field(url, Value.SCIM_URL), Field(username, Value.USERNAME))
    return AuthMethod("basic", name, (*fields, Field(password, Value.PASSWORD), *extra))


# The methods' names and the fields' labels below are marked for translation: a tenant
# admin whose provider's console is in German reads them there in German. Translators:
# use the words that provider's own localised console shows (see the documentation
# named in the module's docstring), and keep a label in English where it shows none.
# The provider names and the FIXED choices ("Basic", "Bearer") are never translated.

#: What any client presenting an RFC 7523 assertion tells its relying party.
_ASSERTION = (
    Field(_("Issuer"), Value.ISSUER),
    Field(_("Subject"), Value.SUBJECT),
    Field(_("Audience"), Value.AUDIENCE),
    Field(_("JWKS URL"), Value.JWKS_URL, optional=True),
)

ENTRA = Provider(
    "entra",
    "Microsoft Entra ID",
    # The flag makes Entra ID send RFC-conformant PATCH requests.
    url_suffix="?aadOptscim062020",
    user_agent_markers=("azure", "microsoft", "aad"),
    methods=(
        AuthMethod(
            "client_secret",
            _("OAuth2 Client Credentials Grant"),
            (
                Field(_("Tenant URL"), Value.SCIM_URL),
                Field(_("Token Endpoint"), Value.TOKEN_ENDPOINT),
                Field(_("Client Identifier"), Value.CLIENT_ID),
                Field(_("Client Secret"), Value.CLIENT_SECRET),
                Field(_("Client Authentication Method"), Value.CLIENT_AUTH_METHOD),
                Field(_("Scope"), Value.SCOPE, optional=True),
            ),
        ),
        AuthMethod(
            "federated",
            _("Workload identity-based authentication"),
            (
                Field(_("Tenant URL"), Value.SCIM_URL),
                Field(_("Token Endpoint"), Value.TOKEN_ENDPOINT),
                Field(_("Client identifier"), Value.CLIENT_ID),
            ),
            shows=(
                Field(_("Token issuer"), Value.ISSUER),
                Field(_("JWKS URI"), Value.JWKS_URL, optional=True),
                Field(_("Subject"), Value.SUBJECT),
                Field(_("Audience"), Value.AUDIENCE),
            ),
        ),
        _bearer(_("Secret Token"), _("Tenant URL"), _("Secret Token")),
    ),
    recommended="client_secret",
)

OKTA = Provider(
    "okta",
    "Okta",
    user_agent_markers=("okta",),
    methods=(
        _basic(_("Basic Auth"), _("SCIM connector base URL"), _("Username"), _("Password")),
        _bearer(_("HTTP Header"), _("SCIM connector base URL"), _("Authorization (Bearer)")),
        AuthMethod(
            "authorization",
            _("OAuth 2"),
            (
                Field(_("SCIM connector base URL"), Value.SCIM_URL),
                Field(_("Access token endpoint URI"), Value.TOKEN_ENDPOINT),
                Field(_("Authorization endpoint URI"), Value.AUTHORIZE_ENDPOINT),
                Field(_("Client ID"), Value.FROM_VENDOR),
                Field(_("Client Secret"), Value.FROM_VENDOR),
            ),
            start_button=_("Authenticate with …"),
        ),
    ),
    recommended="bearer",
)

ONELOGIN = Provider(
    "onelogin",
    "OneLogin",
    user_agent_markers=("onelogin",),
    methods=(_bearer(_("SCIM Bearer Token"), _("SCIM Base URL"), _("SCIM Bearer Token")),),
)

JUMPCLOUD = Provider(
    "jumpcloud",
    "JumpCloud",
    user_agent_markers=("jumpcloud",),
    methods=(_bearer(_("Bearer Token"), _("Base URL"), _("Token Key")),),
)

GOOGLE = Provider(
    "google",
    "Google Workspace",
    user_agent_markers=("google",),
    methods=(_bearer(_("Access token"), _("Endpoint URL"), _("Access token")),),
)

PINGONE = Provider(
    "pingone",
    "PingOne",
    user_agent_markers=("ping",),
    methods=(
        _basic(
            _("Basic Authentication"),
            _("SCIM base URL"),
            _("Basic Auth User"),
            _("Basic Auth Password"),
            Field(_("Auth Type Header"), Value.FIXED, "Basic"),
        ),
        AuthMethod(
            "bearer",
            _("OAuth 2 Bearer Token"),
            (
                Field(_("SCIM base URL"), Value.SCIM_URL),
                Field(_("OAuth Access Token"), Value.TOKEN),
                Field(_("Auth Type Header"), Value.FIXED, "Bearer"),
            ),
        ),
        AuthMethod(
            "client_secret",
            _("OAuth 2 Client Credentials"),
            (
                Field(_("SCIM base URL"), Value.SCIM_URL),
                Field(_("OAuth Token Request"), Value.TOKEN_ENDPOINT),
                Field(_("OAuth Client ID"), Value.CLIENT_ID),
                Field(_("OAuth Client Secret"), Value.CLIENT_SECRET),
                Field(_("Auth Type Header"), Value.FIXED, "Bearer"),
            ),
        ),
    ),
    recommended="client_secret",
)

GENERIC = Provider(
    "generic",
    "Generic SCIM 2.0",
    methods=(
        _bearer(_("Bearer token"), _("SCIM base URL"), _("Bearer token")),
        _basic(_("HTTP Basic"), _("SCIM base URL"), _("Username"), _("Password")),
        AuthMethod(
            "client_secret",
            _("OAuth 2.0 client credentials"),
            (
                Field(_("SCIM base URL"), Value.SCIM_URL),
                Field(_("Token endpoint"), Value.TOKEN_ENDPOINT),
                Field(_("Client ID"), Value.CLIENT_ID),
                Field(_("Client secret"), Value.CLIENT_SECRET),
                Field(_("Client authentication"), Value.CLIENT_AUTH_METHOD),
                Field(_("Scope"), Value.SCOPE, optional=True),
            ),
        ),
        AuthMethod(
            "federated",
            _("JWT client assertion (RFC 7523)"),
            (
                Field(_("SCIM base URL"), Value.SCIM_URL),
                Field(_("Token endpoint"), Value.TOKEN_ENDPOINT),
                Field(_("Client ID"), Value.CLIENT_ID),
            ),
            shows=_ASSERTION,
        ),
    ),
)

PROVIDERS: dict[str, Provider] = {
    provider.key: provider
    for provider in (OKTA, ENTRA, ONELOGIN, JUMPCLOUD, GOOGLE, PINGONE, GENERIC)
}


class UnknownProvider(KeyError):
    """Raised for a provider key that is not in the registry."""

    def __str__(self) -> str:
        return f"Unknown provider {self.args[0]!r}; choose one of: {', '.join(PROVIDERS)}."


def get_provider(key: str) -> Provider:
    """The provider registered under ``key``; raises :class:`UnknownProvider`."""
    try:
        return PROVIDERS[key]
    except KeyError:
        raise UnknownProvider(key) from None


def provider_choices() -> list[tuple[str, str]]:
    """``(key, name)`` pairs for form and model choices."""
    return [(provider.key, provider.name) for provider in PROVIDERS.values()]


def provider_for_user_agent(user_agent: str) -> str:
    """The key of the provider whose SCIM client sends ``user_agent``, or ""."""
    lowered = user_agent.lower()
    for provider in PROVIDERS.values():
        if any(marker in lowered for marker in provider.user_agent_markers):
            return provider.key
    return ""
