"""The app's settings: one ``SCIM_PORTAL`` dict, read lazily, with defaults.

Use ``from scim_portal.conf import app_settings`` and read attributes::

    app_settings.PUBLIC_URL

Values are looked up on first access and cached; the cache is dropped whenever
``SCIM_PORTAL`` changes (``override_settings`` in tests), so nothing is read at
import time.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTING_NAME = "SCIM_PORTAL"
ACCOUNT_MODEL_SETTING = "SCIM_PORTAL_ACCOUNT_MODEL"

DEFAULTS: dict[str, Any] = {
    # Field of the account model that identifies an account in URLs and commands.
    "ACCOUNT_LOOKUP_FIELD": "slug",
    # Scheme and host where IdPs reach this site, e.g. "https://app.example.com".
    # Used to build absolute SCIM URLs outside a request (management command).
    "PUBLIC_URL": None,
    # last_used_at of a token is written at most once per this many seconds.
    "TOKEN_LAST_USED_RESOLUTION": 300,
    # Template that scim_portal/base.html extends.
    "BASE_TEMPLATE": "base.html",
    # SCIM lists: page size when the IdP gives no count, and the most one page holds.
    "DEFAULT_PAGE_SIZE": 100,
    "MAX_PAGE_SIZE": 1000,
    # Seconds a cursor (RFC 9865 cursor paging) stays valid after the page that gave it;
    # advertised as pagination.cursorTimeout.
    "CURSOR_TIMEOUT": 3600,
    # Schema extensions (scim2-models Extension classes, dotted paths) of users and groups.
    "USER_EXTENSIONS": ["scim2_models.EnterpriseUser"],
    "GROUP_EXTENSIONS": [],
    # Bulk requests (RFC 7644 section 3.7): most operations and bytes per request.
    "BULK_MAX_OPERATIONS": 1000,
    "BULK_MAX_PAYLOAD_SIZE": 1_048_576,
    # Limits. Requests per connection per minute, counted in Django's cache (use a shared
    # cache such as Redis or Memcached with several processes); None disables.
    "RATE_LIMIT_PER_MINUTE": 6000,
    # Most bytes in one SCIM request body (Bulk has its own limit), PATCH operations in one
    # request, characters and nesting depth of a filter.
    "MAX_REQUEST_BYTES": 262_144,
    "MAX_PATCH_OPERATIONS": 1000,
    "MAX_FILTER_LENGTH": 4096,
    "MAX_FILTER_DEPTH": 12,
    # Request log: bodies are stored truncated to this many characters.
    "REQUEST_LOG_BODY_LIMIT": 8192,
    # Proxies of the host's own in front of Django: 0 takes REMOTE_ADDR as the client's
    # address; N the N-th address from the right of X-Forwarded-For (DRF's NUM_PROXIES).
    "TRUSTED_PROXY_COUNT": 0,
    # The host side of provisioning (dotted paths): the adapter called on every change,
    # and the account-memberships hook the default adapter uses (None: no memberships).
    "ADAPTER": "scim_portal.provisioning.adapter.DefaultProvisioningAdapter",
    "MEMBERSHIPS": None,
    # Connections never link, claim, edit or deactivate host users with is_staff or
    # is_superuser. True lets them manage staff (never superusers); a system check warns.
    "PROVISION_STAFF": False,
    # Verified domains: the TXT record's name is "<prefix>.<domain>". DNS servers to ask
    # ("192.0.2.53" or "192.0.2.53:5353"; None: the system's resolver) and the seconds a
    # lookup may take. DOMAIN_TXT_LOOKUP (a dotted path to a function of a name returning
    # its TXT strings) replaces the lookup altogether.
    "DOMAIN_VERIFICATION_PREFIX": "_scim-portal-verification",
    "DNS_NAMESERVERS": None,
    "DNS_TIMEOUT": 5.0,
    "DOMAIN_TXT_LOOKUP": "scim_portal.provisioning.domains.dns_txt_lookup",
    # OAuth token endpoint (docs/scim-authentication.md): requests a minute per client
    # address and per client id (None disables).
    "TOKEN_RATE_LIMIT_PER_MINUTE": 60,
    # Federated issuers: seconds their OpenID configuration and keys are cached, seconds a
    # fetch may take, and (for development and tests only) whether http:// URLs and
    # private or loopback addresses may be fetched.
    "FEDERATION_KEYS_CACHE_SECONDS": 3600,
    "FEDERATION_FETCH_TIMEOUT": 5.0,
    "FEDERATION_ALLOW_HTTP": False,
    "FEDERATION_ALLOW_PRIVATE_NETWORKS": False,
    # Days request logs and provisioning events are kept (``manage.py scim_portal prune``).
    "REQUEST_LOG_RETENTION_DAYS": 30,
    "EVENT_RETENTION_DAYS": 365,
    # Events out of the process (docs/events.md). The tasks backend (an alias of TASKS)
    # that delivers them; seconds a delivery may take; the retry window after which an
    # event that keeps failing is dead-lettered, and the first and longest pause between
    # tries (exponential, with jitter); days of failing after which an endpoint is
    # disabled; hours a rotated secret keeps signing beside the new one.
    "TASK_BACKEND": "default",
    "WEBHOOK_TIMEOUT": 10.0,
    "WEBHOOK_RETRY_HOURS": 72,
    "WEBHOOK_RETRY_FIRST_SECONDS": 10,
    "WEBHOOK_RETRY_MAX_SECONDS": 6 * 3600,
    "WEBHOOK_DISABLE_AFTER_DAYS": 5,
    "WEBHOOK_SECRET_OVERLAP_HOURS": 24,
    # Seconds a worker holds a stream while it delivers (a dead worker's hold runs out),
    # and between two sweeps for due retries and notifications (``scim_portal worker``).
    "WEBHOOK_LEASE_SECONDS": 60,
    "SWEEP_INTERVAL_SECONDS": 30,
    # Development only: endpoints may be http:// and on loopback or private addresses.
    "WEBHOOK_ALLOW_INSECURE": False,
    # Days the delivery log is kept (``manage.py scim_portal prune``).
    "DELIVERY_LOG_RETENTION_DAYS": 30,
    # Security Event Tokens: their issuer (None: PUBLIC_URL).
    "SET_ISSUER": None,
    # Emails to people: days before a credential expires they are told, default hours
    # without a request after which a connection is "silent", and the sender (None:
    # DEFAULT_FROM_EMAIL).
    "CREDENTIAL_EXPIRY_NOTICE_DAYS": 14,
    "SILENT_CONNECTION_HOURS": 48,
    "NOTIFICATION_FROM_EMAIL": None,
    # Days a deleted directory user stays restorable from the portal (0: not kept, but for
    # a deletion the brake holds or an admin rejected, until it is decided and pruned).
    "RESTORE_WINDOW_DAYS": 30,
}

# Settings whose value is a dotted path (or a list of them) to import.
IMPORT_STRINGS: frozenset[str] = frozenset(
    {"USER_EXTENSIONS", "GROUP_EXTENSIONS", "ADAPTER", "MEMBERSHIPS", "DOMAIN_TXT_LOOKUP"}
)


class AppSettings:
    """Attribute access to ``settings.SCIM_PORTAL`` merged over ``DEFAULTS``."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    @property
    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, SETTING_NAME, {})
        if not isinstance(value, dict):
            raise ImproperlyConfigured(
                f"settings.{SETTING_NAME} must be a dict, not {type(value).__name__}."
            )
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in DEFAULTS:
            raise AttributeError(f"Unknown {SETTING_NAME} setting: {name!r}")
        if name in self._cache:
            return self._cache[name]
        value = self.user_settings.get(name, DEFAULTS[name])
        if name in IMPORT_STRINGS:
            value = self._import(name, value)
        self._cache[name] = value
        return value

    @staticmethod
    def _import(name: str, value: Any) -> Any:
        from django.utils.module_loading import import_string

        if isinstance(value, list | tuple):
            return [AppSettings._import(name, item) for item in value]
        if not isinstance(value, str):
            return value
        try:
            return import_string(value)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"{SETTING_NAME}[{name!r}] names {value!r}, which cannot be imported: {exc}"
            ) from exc

    def unknown_keys(self) -> list[str]:
        """Keys of ``SCIM_PORTAL`` that this version does not know (likely typos)."""
        return sorted(set(self.user_settings) - set(DEFAULTS))

    def reload(self) -> None:
        self._cache.clear()


app_settings = AppSettings()


def get_account_model_label() -> str:
    """The ``"app_label.ModelName"`` of the host's account (tenant) model."""
    label = getattr(settings, ACCOUNT_MODEL_SETTING, None)
    if not label or not isinstance(label, str) or label.count(".") != 1:
        raise ImproperlyConfigured(
            f"Set {ACCOUNT_MODEL_SETTING} = 'app_label.ModelName' in your settings to name "
            "your tenant (account) model, the way AUTH_USER_MODEL names the user model."
        )
    return label


def get_account_model() -> Any:
    """The host's account model class."""
    from django.apps import apps

    label = get_account_model_label()
    try:
        return apps.get_model(label, require_ready=False)
    except LookupError as exc:
        raise ImproperlyConfigured(
            f"{ACCOUNT_MODEL_SETTING} refers to model {label!r} that is not installed."
        ) from exc


#: Functions called whenever SCIM_PORTAL changes, to drop what was derived from it.
reload_hooks: list[Any] = []


@receiver(setting_changed)
def _reload_app_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        app_settings.reload()
        for hook in reload_hooks:
            hook()
