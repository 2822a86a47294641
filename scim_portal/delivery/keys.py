"""The keys that sign Security Event Tokens, and the JWKS that publishes their public
halves (``scim/events/jwks.json``).

One key signs at a time (the newest one not retired). The first is made on first use;
``rotate_signing_key`` retires it and makes the next. A retired key signs nothing more
but stays published for ``RETIRED_KEY_PUBLISHED_DAYS``, so receivers can still check
what it signed. Private keys are sealed at rest (:mod:`scim_portal._sealed`)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from .. import _sealed
from ..models import SigningKey

audit = logging.getLogger("scim_portal.audit")

#: Days a retired key stays in the JWKS.
RETIRED_KEY_PUBLISHED_DAYS = 30
DEFAULT_ALGORITHM = "ES256"
#: Algorithms a key may be made for: JWS name -> how to make the private key.
ALGORITHMS: dict[str, Any] = {
    "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ES384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=3072),
}
#: The members of each key type that RFC 7638 thumbprints (the kid).
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


def _active() -> QuerySet[SigningKey]:
    return SigningKey.objects.filter(retired_at__isnull=True).order_by("-created_at", "-id")


def _public_jwk(private_key: Any, algorithm: str) -> dict[str, Any]:
    encoder = ECAlgorithm if algorithm.startswith("ES") else RSAAlgorithm
    jwk: dict[str, Any] = encoder.to_jwk(private_key.public_key(), as_dict=True)
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=")
    return {**jwk, "kid": thumbprint.decode(), "use": "sig", "alg": algorithm}


def _new_key(algorithm: str) -> SigningKey:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"Unknown signing algorithm {algorithm!r}: {', '.join(ALGORITHMS)}.")
    private_key = ALGORITHMS[algorithm]()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    jwk = _public_jwk(private_key, algorithm)
    return SigningKey.objects.create(
        kid=jwk["kid"],
        algorithm=algorithm,
        sealed_private_key=_sealed.seal(pem),
        public_jwk=jwk,
    )


def current_key() -> SigningKey:
    """The key that signs now, made on first use. Two processes making the first key at
    once both succeed; the newer key wins and the other is retired at once (still
    published, so anything it signed in between verifies)."""
    key = _active().first()
    if key is not None:
        return key
    with transaction.atomic():
        created = _new_key(DEFAULT_ALGORITHM)
    audit.info("SET signing key %s made (first use)", created.kid)
    keys = list(_active())
    for extra in keys[1:]:
        SigningKey.objects.filter(pk=extra.pk, retired_at__isnull=True).update(
            retired_at=timezone.now()
        )
    return keys[0] if keys else created


def private_key_pem(key: SigningKey) -> str:
    """The key's private half (``ValueError`` if sealed under a SECRET_KEY no longer set)."""
    return _sealed.unseal(key.sealed_private_key)


@transaction.atomic
def rotate_signing_key(*, algorithm: str = DEFAULT_ALGORITHM, actor: Any = None) -> SigningKey:
    """Retire the signing key(s) and make a new one; retired keys stay in the JWKS for
    ``RETIRED_KEY_PUBLISHED_DAYS``."""
    moment = timezone.now()
    retired = [key.kid for key in _active().select_for_update()]
    SigningKey.objects.filter(kid__in=retired).update(retired_at=moment)
    key = _new_key(algorithm)
    audit.info(
        "SET signing key rotated by %s: %s (%s) signs now, %s retired (published until %s)",
        str(actor) if actor else "the system", key.kid, algorithm, ", ".join(retired) or "none",
        (moment + timedelta(days=RETIRED_KEY_PUBLISHED_DAYS)).date().isoformat(),
    )  # fmt: skip
    return key


def published_keys(now: datetime | None = None) -> list[SigningKey]:
    """The keys in the JWKS: those that sign, and those retired within the last
    ``RETIRED_KEY_PUBLISHED_DAYS``, newest first."""
    since = (now or timezone.now()) - timedelta(days=RETIRED_KEY_PUBLISHED_DAYS)
    return list(
        SigningKey.objects.filter(Q(retired_at__isnull=True) | Q(retired_at__gt=since)).order_by(
            "-created_at", "-id"
        )
    )


def jwks() -> dict[str, Any]:
    """The JWK Set of the public keys (RFC 7517); makes the first key if none exists, so
    a receiver can be set up before the first event."""
    keys = published_keys()
    if not any(key.retired_at is None for key in keys):
        current_key()
        keys = published_keys()
    public_members = ("kty", "crv", "x", "y", "n", "e", "kid", "use", "alg")
    return {
        "keys": [
            {name: key.public_jwk[name] for name in public_members if name in key.public_jwk}
            for key in keys
        ]
    }
