"""Federated issuers: checking an RFC 7523 client assertion against the issuer's keys.

The keys come from the credential's JWKS URL, or from the ``jwks_uri`` of the issuer's
OpenID configuration. Both documents are fetched with a bounded timeout and size,
never from a private or loopback address (unless ``FEDERATION_ALLOW_PRIVATE_NETWORKS``),
and kept in Django's cache for ``FEDERATION_KEYS_CACHE_SECONDS``; an assertion signed
by a key not in the cached set fetches the set again, at most once a minute per URL
(keys rotate; a flood of unknown key ids must not become a flood of fetches); a fetch
that failed is not tried again for a minute either.
Signatures and claims are checked by PyJWT, with asymmetric algorithms only.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import jwt
from django.core.cache import caches

from .. import _outbound
from ..conf import app_settings
from ..models import Credential, CredentialKind

#: Signature algorithms an assertion may use: public-key ones only (never HS*, never none).
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
#: Seconds of clock difference allowed when checking ``exp``, ``nbf`` and ``iat``.
LEEWAY = 60
#: The longest an assertion may live (``exp`` this far ahead at most).
MAX_ASSERTION_LIFETIME = 24 * 3600
#: Most bytes of a JWKS or OpenID configuration document.
MAX_DOCUMENT_BYTES = 512 * 1024
#: Least seconds between two fetches of one URL forced by an unknown key id.
REFETCH_INTERVAL = 60
#: Longest assertion read.
MAX_ASSERTION_LENGTH = 16_384


class FederationError(Exception):
    """Why an assertion is refused, in words safe to show the client."""


def _cache() -> Any:
    return caches["default"]


def _cache_key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.encode(errors="surrogatepass")).hexdigest()
    return f"scim_portal:federation:{kind}:{digest}"


def fetch_json(url: str) -> dict[str, Any]:
    """The JSON object at ``url``: https (http only with ``FEDERATION_ALLOW_HTTP``), no
    redirects, at most :data:`MAX_DOCUMENT_BYTES`, within ``FEDERATION_FETCH_TIMEOUT``,
    never from a private address unless ``FEDERATION_ALLOW_PRIVATE_NETWORKS``
    (:func:`scim_portal._outbound.request`)."""
    try:
        response = _outbound.request(
            "GET",
            url,
            headers={"Accept": "application/json"},
            timeout=float(app_settings.FEDERATION_FETCH_TIMEOUT),
            max_bytes=MAX_DOCUMENT_BYTES,
            allow_http=app_settings.FEDERATION_ALLOW_HTTP,
            allow_private=app_settings.FEDERATION_ALLOW_PRIVATE_NETWORKS,
        )
    except _outbound.OutboundError as exc:
        raise FederationError(str(exc).replace("Cannot reach", "Cannot fetch")) from None
    if response.status != 200:
        raise FederationError(f"{url} answered {response.status}.")
    body = response.body
    if len(body) > MAX_DOCUMENT_BYTES:
        raise FederationError(f"{url} is larger than {MAX_DOCUMENT_BYTES} bytes.")
    try:
        document = json.loads(body)
    except ValueError:
        raise FederationError(f"{url} is not JSON.") from None
    if not isinstance(document, dict):
        raise FederationError(f"{url} is not a JSON object.")
    return document


def _fetch(url: str) -> dict[str, Any]:
    """:func:`fetch_json`, except that a URL whose fetch failed is not fetched again for
    :data:`REFETCH_INTERVAL` seconds (the same refusal meanwhile): a dead or slow key
    server must not cost a fetch, and a worker held up to the timeout, per request."""
    failed = _cache_key("failed", url)
    reason = _cache().get(failed)
    if isinstance(reason, str):
        raise FederationError(reason)
    try:
        return fetch_json(url)
    except FederationError as exc:
        _cache().set(failed, str(exc), REFETCH_INTERVAL)
        raise


def jwks_url_of(credential: Credential) -> str:
    """Where the issuer's keys are: the credential's JWKS URL, or the ``jwks_uri`` of
    ``<issuer>/.well-known/openid-configuration`` (cached like the keys)."""
    if credential.jwks_url:
        return credential.jwks_url
    configuration_url = credential.issuer.rstrip("/") + "/.well-known/openid-configuration"
    key = _cache_key("config", configuration_url)
    cached = _cache().get(key)
    if isinstance(cached, str):
        return cached
    document = _fetch(configuration_url)
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri:
        raise FederationError(f"{configuration_url} names no jwks_uri.")
    _cache().set(key, jwks_uri, app_settings.FEDERATION_KEYS_CACHE_SECONDS)
    return jwks_uri


def _key_set(url: str, *, refresh: bool = False) -> jwt.PyJWKSet:
    key = _cache_key("jwks", url)
    document = None if refresh else _cache().get(key)
    if document is None:
        document = _fetch(url)
        _cache().set(key, document, app_settings.FEDERATION_KEYS_CACHE_SECONDS)
    try:
        return jwt.PyJWKSet.from_dict(document)
    except jwt.PyJWTError as exc:
        raise FederationError(f"{url} holds no usable keys: {exc}.") from None


def signing_key(credential: Credential, key_id: str | None) -> jwt.PyJWK:
    """The issuer's key ``key_id`` (the only key when the assertion names none)."""
    url = jwks_url_of(credential)
    keys = _key_set(url)
    found = _pick(keys, key_id)
    if found is None and _cache().add(_cache_key("refetch", url), 1, REFETCH_INTERVAL):
        found = _pick(_key_set(url, refresh=True), key_id)
    if found is None:
        raise FederationError("The assertion is signed with a key the issuer does not publish.")
    return found


def _pick(keys: jwt.PyJWKSet, key_id: str | None) -> jwt.PyJWK | None:
    if key_id is None:
        return keys.keys[0] if len(keys.keys) == 1 else None
    return next((key for key in keys.keys if key.key_id == key_id), None)


def verify_assertion(credential: Credential, assertion: str) -> dict[str, Any]:
    """The claims of ``assertion`` once its signature, issuer, subject, audience, expiry
    and single use are checked against ``credential``; else :class:`FederationError`."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        raise FederationError("The assertion is not a JWT.") from None
    if header.get("alg") not in ALGORITHMS:
        raise FederationError("The assertion's algorithm is not accepted.")
    key = signing_key(credential, header.get("kid"))
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            key=key.key,
            algorithms=ALGORITHMS,
            audience=credential.audience,
            issuer=credential.issuer,
            subject=credential.subject,
            leeway=LEEWAY,
            options={"require": ["exp", "iss", "sub", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise FederationError(f"The assertion is not valid: {exc}.") from None
    now = time.time()
    # PyJWT checked that it is an integer; one past any float would overflow float().
    expires = int(claims["exp"])
    if expires > now + MAX_ASSERTION_LIFETIME:
        raise FederationError("The assertion lives longer than a day.")
    # Entra's tokens carry their unique id as "uti"; RFC 7523 names it "jti".
    unique = claims.get("jti") or claims.get("uti")
    if not isinstance(unique, str) or not unique:
        raise FederationError("The assertion has no jti (a unique id), so it could be replayed.")
    seen = _cache_key("jti", f"{credential.pk}:{unique}")
    try:
        first_use = _cache().add(seen, 1, int(expires - now + LEEWAY) + 1)
    except Exception:
        raise FederationError("Cannot check the assertion for replay now; retry.") from None
    if not first_use:
        raise FederationError("The assertion was used before.")
    return claims


def _storable(text: str) -> bool:
    """Whether ``text`` can be a database value: UTF-8 (no lone surrogate) without NUL."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def issuer_named_by(assertion: str, client_id: str | None = None) -> Credential:
    """The usable federated issuer, with its connection, whose issuer, subject and
    audience ``assertion`` names (of the connection ``client_id`` names, when given; the
    newest, when that connection has several alike), else :class:`FederationError`.
    Nothing is verified yet: :func:`verify_assertion`."""
    if len(assertion) > MAX_ASSERTION_LENGTH:
        raise FederationError("The client assertion is too long.")
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise FederationError("The client assertion is not a JWT.") from None
    issuer, subject = unverified.get("iss"), unverified.get("sub")
    if not isinstance(issuer, str) or not isinstance(subject, str):
        raise FederationError("The client assertion needs 'iss' and 'sub'.")
    if not _storable(issuer) or not _storable(subject):  # so no stored issuer has it
        raise FederationError("The client assertion's 'iss' or 'sub' is not text.")
    candidates = (
        Credential.objects.usable()
        .filter(kind=CredentialKind.FEDERATED, issuer=issuer, subject=subject)
        .select_related("connection")
    )
    if client_id:
        candidates = candidates.filter(connection__oauth_client_id=client_id)
    audience = unverified.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list):
        audiences = []
    found = [c for c in candidates.order_by("-created_at", "-pk")[:20] if c.audience in audiences]
    # One connection may trust the same issuer twice (rotation with overlap): its newest acts.
    if len({c.connection_id for c in found}) != 1:
        raise FederationError(
            "No single federated issuer of a connection matches this assertion"
            + ("." if client_id or not found else "; send client_id.")
        )
    return found[0]
