"""django-scim-portal as bench/event_delivery.py serves it: the benchmark's settings, with
webhooks allowed to the local receiver (http on 127.0.0.1)."""

from bench.portal_settings import *  # noqa: F403
from bench.portal_settings import SCIM_PORTAL

SCIM_PORTAL = {**SCIM_PORTAL, "WEBHOOK_ALLOW_INSECURE": True}
