"""System checks: configuration mistakes reported by ``manage.py check``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured

from .conf import DEFAULTS, IMPORT_STRINGS, SETTING_NAME, app_settings, get_account_model

GUARDIAN_BACKEND = "guardian.backends.ObjectPermissionBackend"


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    errors: list[Any] = []
    try:
        unknown = app_settings.unknown_keys()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="SCIM_PORTAL = {...}", id="scim_portal.E001")]
    for key in unknown:
        errors.append(
            Error(
                f"Unknown key {key!r} in settings.{SETTING_NAME}.",
                hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
                id="scim_portal.E002",
            )
        )
    try:
        account_model = get_account_model()
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="scim_portal.E003"))
    else:
        field = app_settings.ACCOUNT_LOOKUP_FIELD
        try:
            account_model._meta.get_field(field)
        except FieldDoesNotExist:
            errors.append(
                Error(
                    f"{SETTING_NAME}['ACCOUNT_LOOKUP_FIELD'] is {field!r}, which is not a field "
                    f"of {account_model._meta.label}.",
                    hint="Name the field (usually a slug) that identifies an account.",
                    id="scim_portal.E004",
                )
            )
    for key in sorted(IMPORT_STRINGS):
        try:
            getattr(app_settings, key)
        except ImproperlyConfigured as exc:
            errors.append(
                Error(str(exc), hint="Give a dotted path to a class.", id="scim_portal.E006")
            )
    public_url = app_settings.PUBLIC_URL
    if public_url is not None and not str(public_url).startswith(("http://", "https://")):
        errors.append(
            Error(
                f"{SETTING_NAME}['PUBLIC_URL'] must start with http:// or https://.",
                hint='For example "https://app.example.com".',
                id="scim_portal.E005",
            )
        )
    proxies = app_settings.TRUSTED_PROXY_COUNT
    if isinstance(proxies, bool) or not isinstance(proxies, int) or proxies < 0:
        errors.append(
            Error(
                f"{SETTING_NAME}['TRUSTED_PROXY_COUNT'] must be a whole number of at least 0, "
                f"not {proxies!r}.",
                hint="How many proxies of your own stand in front of Django: 0 without one.",
                id="scim_portal.E010",
            )
        )
    return errors


@register(Tags.security)
def check_guardian_backend(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    if GUARDIAN_BACKEND in settings.AUTHENTICATION_BACKENDS:
        return []
    return [
        Warning(
            "django-guardian's object permission backend is not enabled, so per-account "
            "provisioning permissions are never granted (only superusers get through).",
            hint=f"Add {GUARDIAN_BACKEND!r} to AUTHENTICATION_BACKENDS.",
            id="scim_portal.W001",
        )
    ]


@register(Tags.urls)
def check_public_url(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    if app_settings.PUBLIC_URL:
        return []
    return [
        Warning(
            f"{SETTING_NAME}['PUBLIC_URL'] is not set: SCIM URLs printed outside a request "
            "(the scim_portal management command) are relative.",
            hint='Set it to where identity providers reach this site, e.g. "https://app.example.com".',
            id="scim_portal.W002",
        )
    ]


@register(Tags.compatibility)
def check_memberships_hook(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    from .provisioning.adapter import DefaultProvisioningAdapter

    try:
        adapter, memberships = app_settings.ADAPTER, app_settings.MEMBERSHIPS
    except ImproperlyConfigured:
        return []  # reported by check_settings
    uses_default = isinstance(adapter, type) and issubclass(adapter, DefaultProvisioningAdapter)
    if not uses_default or memberships is not None:
        return []
    return [
        Warning(
            "The default provisioning adapter has no account-memberships hook: provisioned "
            "users are created or linked, but never added to (or removed from) accounts.",
            hint=f"Set {SETTING_NAME}['MEMBERSHIPS'] to your subclass of "
            "scim_portal.provisioning.adapter.AccountMemberships.",
            id="scim_portal.W003",
        )
    ]


@register(Tags.security)
def check_staff_protection(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    if not app_settings.PROVISION_STAFF:
        return []
    return [
        Warning(
            f"{SETTING_NAME}['PROVISION_STAFF'] is True: identity providers of your customers "
            "may claim, edit and deactivate host users with is_staff (never superusers) whose "
            "email is on a domain verified for their account.",
            hint="Leave it False unless your own staff are provisioned through a connection.",
            id="scim_portal.W004",
        )
    ]


@register(Tags.compatibility)
def check_deprecated_hooks(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    from .provisioning.adapter import AccountMemberships

    try:
        hook = app_settings.MEMBERSHIPS
    except ImproperlyConfigured:
        return []
    if not (isinstance(hook, type) and issubclass(hook, AccountMemberships)):
        return []
    if hook.find_user_by_verified_email is AccountMemberships.find_user_by_verified_email:
        return []
    return [
        Warning(
            f"{hook.__name__} implements find_user_by_verified_email(email), which is "
            "deprecated: it cannot tell which account asks.",
            hint="Implement find_user_by_email(email, account) instead; the old method will "
            "not be called in the next release.",
            id="scim_portal.W005",
        )
    ]


@register(Tags.compatibility, Tags.database)
def check_sqlite_concurrency(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """SQLite under an IdP's concurrent writes: without IMMEDIATE transactions a writer
    that began by reading fails with "database is locked" as soon as another writes
    (SQLite cannot upgrade its read lock while waiting); without a busy timeout every
    writer that finds the lock taken fails at once."""
    database: dict[str, Any] = settings.DATABASES.get("default", {})
    if database.get("ENGINE") != "django.db.backends.sqlite3":
        return []
    options: dict[str, Any] = database.get("OPTIONS") or {}
    missing = []
    if str(options.get("transaction_mode") or "").upper() not in ("IMMEDIATE", "EXCLUSIVE"):
        missing.append('"transaction_mode": "IMMEDIATE"')
    if not options.get("timeout"):
        missing.append('"timeout": 20')
    if not missing:
        return []
    return [
        Warning(
            "The default database is SQLite without IMMEDIATE transactions or a busy timeout: "
            "simultaneous SCIM writes (an IdP sends several at once) fail with "
            '"database is locked" (HTTP 500).',
            hint=f"Add {', '.join(missing)} to DATABASES['default']['OPTIONS'] (and "
            '"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"), or '
            "use PostgreSQL in production.",
            id="scim_portal.W006",
        )
    ]


@register(Tags.security)
def check_federation_fetches(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Fetching issuers' keys over http or from private addresses is for development."""
    loosened = [
        key
        for key in ("FEDERATION_ALLOW_HTTP", "FEDERATION_ALLOW_PRIVATE_NETWORKS")
        if getattr(app_settings, key)
    ]
    if not loosened or settings.DEBUG:
        return []
    return [
        Warning(
            f"{SETTING_NAME}[{loosened[0]!r}] is True outside DEBUG: a tenant admin's "
            "federated issuer can make the server fetch "
            + (
                "plain-http URLs"
                if loosened[0] == "FEDERATION_ALLOW_HTTP"
                else "internal addresses"
            )
            + ".",
            hint="Leave FEDERATION_ALLOW_HTTP and FEDERATION_ALLOW_PRIVATE_NETWORKS False in "
            "production (docs/scim-authentication.md).",
            id="scim_portal.W007",
        )
    ]


@register(Tags.security)
def check_webhook_addresses(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Webhooks to http and private addresses are for development."""
    if not app_settings.WEBHOOK_ALLOW_INSECURE or settings.DEBUG:
        return []
    return [
        Warning(
            f"{SETTING_NAME}['WEBHOOK_ALLOW_INSECURE'] is True outside DEBUG: webhook "
            "endpoints may be plain http and on internal addresses.",
            hint="Leave it False in production (docs/events.md).",
            id="scim_portal.W008",
        )
    ]


@register(Tags.compatibility)
def check_task_backend(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Event delivery needs a backend that runs tasks in workers, not in the request."""
    from . import _tasks

    try:
        backend = _tasks._backend()
    except Exception as exc:
        return [
            Error(
                f"{SETTING_NAME}['TASK_BACKEND'] names no backend of TASKS: {exc}",
                hint="Configure TASKS (docs/events.md).",
                id="scim_portal.E007",
            )
        ]
    if type(backend).__name__ != "ImmediateBackend":
        return []
    return [
        Warning(
            "The tasks backend runs tasks at once, inside the request: a slow or dead "
            "webhook receiver would slow every SCIM write, and retries would wait for "
            "the next change.",
            hint='Use the database backend: TASKS = {"default": {"BACKEND": '
            '"django_tasks_db.DatabaseBackend"}}, and run `manage.py scim_portal worker` '
            "(docs/events.md).",
            id="scim_portal.W009",
        )
    ]


#: Blocks of the host's base template the app's pages fill: without ``content`` the pages
#: are empty, without ``extra_head`` they lose their stylesheet and script.
REQUIRED_BLOCKS = ("content", "extra_head")


@register(Tags.templates)
def check_base_template(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """The Provisioning tab extends the host's base template: it must exist and have the
    blocks the tab fills, or the tab answers 500 (or renders empty)."""
    from django.template import TemplateDoesNotExist, TemplateSyntaxError
    from django.template.loader import get_template

    name = app_settings.BASE_TEMPLATE
    try:
        template = get_template(name)
    except TemplateDoesNotExist:
        return [
            Error(
                f"The Provisioning tab extends the template {name!r}, which does not exist: "
                "its pages would answer 500 (TemplateDoesNotExist).",
                hint=f'Create {name} with blocks "title", "extra_head" and "content" (a minimal '
                f"one is in docs/integration.md), or name your base template in "
                f"{SETTING_NAME}['BASE_TEMPLATE'].",
                id="scim_portal.E008",
            )
        ]
    except TemplateSyntaxError:
        return []  # Django's own template checks and the first request report it
    blocks = _block_names(template)
    if blocks is None:
        return []  # not a Django template: its blocks cannot be read
    messages: list[Any] = []
    missing = [block for block in REQUIRED_BLOCKS if block not in blocks]
    if missing:
        messages.append(
            Error(
                f"The base template {name!r} has no {' or '.join(repr(b) for b in missing)} "
                "block: the Provisioning tab's pages would render "
                + ("empty." if "content" in missing else "without their stylesheet and script."),
                hint="Add {% block content %}{% endblock %} inside <body> and "
                "{% block extra_head %}{% endblock %} inside <head> (docs/integration.md).",
                id="scim_portal.E009",
            )
        )
    if "title" not in blocks:
        messages.append(
            Warning(
                f"The base template {name!r} has no 'title' block: the Provisioning tab's "
                "pages keep the base template's title.",
                hint="Add <title>{% block title %}{% endblock %}</title> to its <head>.",
                id="scim_portal.W013",
            )
        )
    return messages


def _block_names(template: Any) -> set[str] | None:
    """The names of the blocks a Django template defines, its parents' included (found
    by its own engine, as ``{% extends %}`` finds them)."""
    from django.template.base import Template as DjangoTemplate
    from django.template.loader_tags import BlockNode, ExtendsNode

    compiled: Any = getattr(template, "template", None)
    if not isinstance(compiled, DjangoTemplate):
        return None
    names: set[str] = set()
    seen: set[str] = set()
    while compiled is not None and compiled.origin.name not in seen:
        seen.add(compiled.origin.name)
        blocks: list[Any] = compiled.nodelist.get_nodes_by_type(BlockNode)
        names.update(node.name for node in blocks)
        extends: list[Any] = compiled.nodelist.get_nodes_by_type(ExtendsNode)
        if not extends:
            break
        expression = extends[0].parent_name
        parent = getattr(expression.var, "literal", None)
        if expression.filters or not isinstance(parent, str) or not parent:
            return names | set(REQUIRED_BLOCKS) | {"title"}  # a variable parent: unknowable
        try:
            compiled = compiled.engine.get_template(parent)
        except Exception:
            break
    return names


@register(Tags.urls)
def check_login_url(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Anonymous visitors of the Provisioning tab go to ``LOGIN_URL``: it must answer."""
    from urllib.parse import urlsplit

    from django.urls import NoReverseMatch, Resolver404, get_script_prefix, resolve, reverse

    try:
        login_url = str(settings.LOGIN_URL)  # a reverse_lazy() resolves here
    except NoReverseMatch as exc:
        return [_login_url_warning(f"a reverse_lazy() that fails: {exc}")]
    target = urlsplit(login_url)
    if target.scheme in ("http", "https") or target.netloc:
        return []  # another site's login page
    try:
        if login_url.startswith("/"):
            # A full path, FORCE_SCRIPT_NAME's prefix included; patterns answer what follows.
            resolve("/" + target.path.removeprefix(get_script_prefix()).lstrip("/"))
        else:
            reverse(login_url)
    except (Resolver404, NoReverseMatch):
        return [_login_url_warning(repr(login_url))]
    return []


def _login_url_warning(login_url: str) -> Any:
    return Warning(
        f"LOGIN_URL is {login_url}, which no URL pattern answers: anonymous visitors of the "
        "Provisioning tab would be sent to a 404.",
        hint="Point LOGIN_URL at your login page (a URL or a URL name, e.g. "
        '"admin:login"), or include("django.contrib.auth.urls").',
        id="scim_portal.W012",
    )


#: What every management API view declares for itself rather than take from the host's
#: ``REST_FRAMEWORK`` (which DRF copies into ``APIView``'s class attributes on import).
API_VIEW_POLICIES = (
    "authentication_classes",
    "permission_classes",
    "parser_classes",
    "renderer_classes",
    "content_negotiation_class",
    "versioning_class",
)
API_GENERIC_VIEW_POLICIES = ("pagination_class", "filter_backends")


@register(Tags.security)
def check_api_authentication(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Every management API view accepts only the API's own authentication classes, and
    declares its policies instead of inheriting the host's DRF defaults."""
    from rest_framework.generics import GenericAPIView
    from rest_framework.views import APIView

    from .api import urls
    from .api.authentication import API_AUTHENTICATION_CLASSES

    intended = set(API_AUTHENTICATION_CLASSES)
    messages: list[Any] = []
    for pattern in urls.urlpatterns:
        view = getattr(pattern.callback, "cls", None)
        if not (isinstance(view, type) and issubclass(view, APIView)):
            continue
        name = f"{view.__module__}.{view.__qualname__}"
        instance = view(**getattr(pattern.callback, "initkwargs", {}))
        accepted = [type(authenticator) for authenticator in instance.get_authenticators()]
        unintended = [cls for cls in accepted if cls not in intended]
        if unintended:
            messages.append(
                Warning(
                    f"The management API view {name} accepts "
                    f"{', '.join(cls.__qualname__ for cls in unintended)}, which the API does "
                    "not intend: its URL may be reachable with other credentials than "
                    "environment keys and sessions.",
                    hint="Derive the view from scim_portal.api.views.ApiView, or set its "
                    "authentication_classes to scim_portal.api.authentication."
                    "API_AUTHENTICATION_CLASSES (or a part of them).",
                    obj=view,
                    id="scim_portal.W010",
                )
            )
        policies = API_VIEW_POLICIES + (
            API_GENERIC_VIEW_POLICIES if issubclass(view, GenericAPIView) else ()
        )
        inherited = [policy for policy in policies if _from_drf(view, policy)]
        if inherited:
            messages.append(
                Warning(
                    f"The management API view {name} takes {', '.join(inherited)} from the "
                    "host's REST_FRAMEWORK settings.",
                    hint="Derive the view from scim_portal.api.views.ApiView, which declares them.",
                    obj=view,
                    id="scim_portal.W011",
                )
            )
    return messages


def _from_drf(view: type, attribute: str) -> bool:
    """``attribute`` of ``view`` is DRF's class attribute (read from the host's settings)."""
    owner = next(cls for cls in view.__mro__ if attribute in vars(cls))
    return owner.__module__.startswith("rest_framework.")
