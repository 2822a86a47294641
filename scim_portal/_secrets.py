"""High-entropy bearer secrets stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets

#: Characters after the recognisable prefix kept in clear to tell secrets apart.
DISPLAY_CHARACTERS = 8


def generate(prefix: str) -> str:
    """A new secret: ``prefix`` and 256 random bits (43 URL-safe characters)."""
    return prefix + secrets.token_urlsafe(32)


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def display_prefix(raw: str, prefix: str) -> str:
    return raw[: len(prefix) + DISPLAY_CHARACTERS]
