"""Secrets the app must read back (a webhook's signing secret, the SET signing key),
sealed at rest with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from
``SECRET_KEY``; ``SECRET_KEY_FALLBACKS`` still open what older keys sealed, so
``SECRET_KEY`` rotates the Django way. A database dump alone does not give them away.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_INFO = b"scim_portal sealed secrets v1"


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _keys() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(key) for key in keys])


def seal(value: str) -> str:
    return _keys().encrypt(value.encode()).decode()


def unseal(token: str) -> str:
    """The sealed value; ``ValueError`` if no current or fallback key opens it."""
    try:
        return _keys().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError(
            "This secret was sealed under a SECRET_KEY no longer configured."
        ) from None
