"""RFC 9967 Security Event Tokens (work in progress in this commit: the SET format and
its poll endpoint land with their tests)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..models import ProvisioningEvent, WebhookEndpoint
from .payloads import Message


def encode(event: ProvisioningEvent, *, audience: str, account_key: Any = None) -> str:
    raise NotImplementedError("SET delivery is not built yet.")


def test_message(endpoint: WebhookEndpoint, moment: datetime) -> Message:
    raise NotImplementedError("SET delivery is not built yet.")
