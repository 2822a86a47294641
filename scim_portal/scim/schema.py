"""What this SCIM service is: its resource models, extensions and capabilities.

Built from settings on first use and rebuilt when ``SCIM_PORTAL`` changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Annotated, Any, ClassVar

import email_validator
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ComplexAttribute,
    Email,
    ETag,
    Extension,
    External,
    Filter,
    Group,
    Pagination,
    Patch,
    Reference,
    ResourceType,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    User,
)

from ..conf import app_settings, reload_hooks
from ..models import CredentialKind

#: How much this service tolerates from IdPs (INTEROP.md): unknown attributes and
#: schema URNs are ignored, a ``remove`` with a ``value`` selects what to remove, and
#: a valuePath that matches nothing creates the entry it describes (the clients that
#: send these are in :mod:`scim_portal.scim.providers`).
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


#: email-validator's syntax rules for an address kept in a directory, which need not be
#: deliverable on the public Internet: no DNS query, and no dot needed after the @-sign
#: (the single-label domains of on-premises directories). Each option is given here, so
#: the module-wide defaults a host may change for its own forms do not reach SCIM.
_EMAIL_SYNTAX: dict[str, Any] = {
    "check_deliverability": False,
    "globally_deliverable": False,
    "test_environment": False,
    "allow_smtputf8": True,
    "allow_empty_local": False,
    "allow_quoted_local": False,
    "allow_domain_literal": False,
    "allow_display_name": True,
}


def _special_use_name(domain: str) -> str:
    """The special-use or reserved name (RFC 6761: ``test``, ``localhost``, ``local``…)
    that ``domain`` is or ends in, as email-validator lists them; "" if none."""
    for name in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        head, tail = domain[: -len(name)], domain[-len(name) :]
        if tail.lower() == name and (not head or head.endswith(".")):
            return name
    return ""


def email_address(value: str | None) -> str | None:
    """``value`` normalised as pydantic's ``EmailStr`` does (the domain lower-cased and
    IDNA-decoded, the local part in NFC), on any syntactically valid domain.

    email-validator refuses special-use and reserved names (``corp.local``,
    ``host.localhost``, ``example.test``) and offers no per-call option to allow them
    (its list is process-wide: changing it would change the host's own validation).
    So such a name is checked as a stand-in of the same shape and length
    (``corp.xxxxx``: the same rules apply to it) and put back in the result.

    Raises pydantic's ``value_error`` for what is not an address: no @-sign, nothing
    before it, spaces or line breaks, invalid labels, too long.
    """
    if value is None:
        return None
    address = value.strip()
    local, at, domain = address.rpartition("@")
    name = _special_use_name(domain) if at else ""
    if name:  # letters for letters, dots kept
        address = f"{local}@{domain[: -len(name)]}{re.sub(r'[^.]', 'x', name)}"
    try:
        if "\r" in value or "\n" in value:  # as EmailStr: never a folded header line
            raise email_validator.EmailSyntaxError("An email address cannot contain a line break.")
        normalized = email_validator.validate_email(address, **_EMAIL_SYNTAX).normalized
    except email_validator.EmailNotValidError as exc:
        raise PydanticCustomError(
            "value_error", "value is not a valid email address: {reason}", {"reason": str(exc)}
        ) from None
    return f"{normalized[: -len(name)]}{name}" if name else normalized


class PortalEmail(Email):
    """An item of a user's ``emails``: its value on any syntactically valid domain
    (:func:`email_address`), not only on globally deliverable ones."""

    value: Annotated[str | None, AfterValidator(email_address)] = None
    """Email addresses for the user."""


class PortalUser(User):
    """The core ``User`` whose emails are :class:`PortalEmail`."""

    # A narrower item type: pydantic overrides the field; mypy sees lists as invariant.
    emails: list[PortalEmail] | None = None  # type: ignore[assignment]
    """Email addresses for the user."""

    Emails: ClassVar[type[ComplexAttribute]] = PortalEmail


def _parameterized(base: Any, extensions: list[type[Extension]]) -> Any:
    if not extensions:
        return base
    union = extensions[0]
    for extension in extensions[1:]:
        union = union | extension  # type: ignore[assignment]
    return base[union]


@cache
def user_model() -> Any:
    """:class:`PortalUser` with the configured extensions (``[EnterpriseUser]`` by
    default)."""
    return _parameterized(PortalUser, list(app_settings.USER_EXTENSIONS))


@cache
def group_model() -> Any:
    """``Group`` with the configured extensions."""
    return _parameterized(Group, list(app_settings.GROUP_EXTENSIONS))


RFC_6750 = Reference[External]("https://www.rfc-editor.org/info/rfc6750")
RFC_7617 = Reference[External]("https://www.rfc-editor.org/info/rfc7617")
#: What each OAuth kind of credential does at the token endpoint, in plain words.
_OAUTH_METHODS = {
    CredentialKind.CLIENT_SECRET: "client credentials with a client secret",
    CredentialKind.FEDERATED: "client credentials with a signed JWT client assertion (RFC 7523)",
    CredentialKind.AUTHORIZATION: "the authorization code grant and its refresh tokens",
}
#: The scheme of a connection that has no usable credential (none opens it).
_NO_SCHEME = AuthenticationScheme(
    type=AuthenticationScheme.Type.oauthbearertoken,
    name="OAuth Bearer Token",
    description="A bearer token of this connection, sent as 'Authorization: Bearer <token>'.",
    spec_uri=RFC_6750,
    primary=True,
)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def authentication_schemes(
    kinds: Iterable[str], token_endpoint: str | None = None
) -> list[AuthenticationScheme]:
    """The schemes that credentials of ``kinds`` are sent with (RFC 7643 section 5):
    ``oauthbearertoken`` for bearer tokens and the token endpoint's access tokens
    (naming ``token_endpoint``), ``httpbasic`` for Basic credentials; the first is
    ``primary``."""
    kinds = set(kinds)
    schemes = []
    ways = []
    if CredentialKind.BEARER in kinds:
        ways.append("a bearer token of this connection")
    methods = [words for kind, words in _OAUTH_METHODS.items() if kind in kinds]
    if methods:
        endpoint = (
            f"the token endpoint {token_endpoint}" if token_endpoint else "the token endpoint"
        )
        ways.append(f"an OAuth 2.0 access token from {endpoint} ({'; '.join(methods)})")
    if ways:
        schemes.append(
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="OAuth Bearer Token",
                description=_sentence(
                    f"{' or '.join(ways)}, sent as 'Authorization: Bearer <token>'."
                ),
                spec_uri=RFC_6750,
            )
        )
    if CredentialKind.BASIC in kinds:
        schemes.append(
            AuthenticationScheme(
                type=AuthenticationScheme.Type.httpbasic,
                name="HTTP Basic",
                description="The username and password of a Basic credential of this "
                "connection, sent as 'Authorization: Basic <base64>'.",
                spec_uri=RFC_7617,
            )
        )
    if not schemes:
        return [_NO_SCHEME]
    schemes[0].primary = True
    return schemes


def service_provider_config(
    schemes: list[AuthenticationScheme] | None = None,
) -> ServiceProviderConfig:
    """What the service supports, truthfully (RFC 7643 section 5); ``schemes`` are the
    authentication schemes of the connection asking (:func:`authentication_schemes`)."""
    return ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(
            supported=True,
            max_operations=app_settings.BULK_MAX_OPERATIONS,
            max_payload_size=app_settings.BULK_MAX_PAYLOAD_SIZE,
        ),
        filter=Filter(supported=True, max_results=app_settings.MAX_PAGE_SIZE),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        # RFC 9865: cursors beside index paging, which stays the default.
        pagination=Pagination(
            cursor=True,
            index=True,
            default_pagination_method=Pagination.DefaultPaginationMethod.index,
            default_page_size=min(app_settings.DEFAULT_PAGE_SIZE, app_settings.MAX_PAGE_SIZE),
            max_page_size=app_settings.MAX_PAGE_SIZE,
            cursor_timeout=app_settings.CURSOR_TIMEOUT,
        ),
        authentication_schemes=schemes or [_NO_SCHEME],
    )


@cache
def provider() -> ScimProvider:
    """The scim2-models description of the service, used by the discovery endpoints."""
    models: list[Any] = [User, Group]
    models += [ext for ext in app_settings.USER_EXTENSIONS if ext not in models]
    models += [ext for ext in app_settings.GROUP_EXTENSIONS if ext not in models]
    return ScimProvider(
        models=models,
        resource_types=[
            ResourceType.from_resource(user_model()),
            ResourceType.from_resource(group_model()),
        ],
        config=service_provider_config(),
        policy=POLICY,
    )


def _reset() -> None:
    user_model.cache_clear()
    group_model.cache_clear()
    provider.cache_clear()


reload_hooks.append(_reset)
