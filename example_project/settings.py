"""Settings of the example multi-tenant SaaS that hosts django-scim-portal.

Two ways to run it, chosen by the environment:

- The demo (``make run``, nothing set): DEBUG on, a development secret key, SQLite in
  ``db.sqlite3`` (``SQLITE_PATH`` elsewhere), Django's local-memory cache.
  ``DATABASE_ENGINE=postgres`` reads the usual PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE.
- The production profile (``DJANGO_PROFILE=production``; ``make serve``): DEBUG off
  unless ``DEBUG=1``, ``SECRET_KEY`` required, static files through WhiteNoise, logs to
  stdout with timestamps and request ids, persistent database connections, and secure
  cookies, HSTS and an HTTPS redirect when ``PUBLIC_URL`` is https.

In both, ``DATABASE_URL`` (any URL dj-database-url reads), ``CACHE_URL``/``REDIS_URL``
(Redis through Django's own ``RedisCache``), ``ALLOWED_HOSTS`` and ``PUBLIC_URL`` win
when set. Every variable: docs/deployment.md.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


PROFILE = os.environ.get("DJANGO_PROFILE", "demo")
if PROFILE not in ("demo", "production"):
    raise ImproperlyConfigured(f"DJANGO_PROFILE is {PROFILE!r}: use demo or production.")
PRODUCTION = PROFILE == "production"

PUBLIC_URL = os.environ.get("PUBLIC_URL") or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
HTTPS = urlsplit(PUBLIC_URL).scheme == "https"

if PRODUCTION:
    DEBUG = env_flag("DEBUG", False)
    SECRET_KEY = os.environ.get("SECRET_KEY") or os.environ.get("DJANGO_SECRET_KEY", "")
    if not SECRET_KEY:
        if not DEBUG:
            raise ImproperlyConfigured(
                "SECRET_KEY is required in the production profile (DEBUG is off): set it to "
                "a long random string, e.g. python -c 'import secrets; "
                "print(secrets.token_urlsafe(50))'."
            )
        SECRET_KEY = "debug-only-insecure-key-change-me"
else:
    SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-insecure-key-change-me")
    DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS") or ["127.0.0.1", "localhost", "[::1]"]
if os.environ.get("PUBLIC_URL") and not env_list("ALLOWED_HOSTS"):
    ALLOWED_HOSTS.append(urlsplit(PUBLIC_URL).hostname or "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "guardian",
    "django_tasks_db",
    "scim_portal",
    "example_project.accounts",
]

# Background work (event delivery, notifications): Django's tasks framework with the
# database-backed backend; `manage.py scim_portal worker` runs it (`make run` starts one).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The portal speaks the visitor's language (Accept-Language, or the language cookie).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
if PRODUCTION:
    # The request id first, so that every later log line carries it; WhiteNoise right
    # after SecurityMiddleware, as its documentation asks.
    MIDDLEWARE.insert(0, "example_project.request_id.RequestIdMiddleware")
    MIDDLEWARE.insert(2, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "example_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "example_project.accounts.context_processors.accounts",
            ],
        },
    },
]

WSGI_APPLICATION = "example_project.wsgi.application"

# SQLite under concurrent IdP traffic: writers take the lock when their transaction
# begins (IMMEDIATE, so none fails with "database is locked" half-way through), wait up
# to 20 s for it, and WAL lets readers go on while one writes (docs/deployment.md).
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "timeout": 20,
}

if os.environ.get("DATABASE_URL"):
    import dj_database_url

    DATABASES = {
        "default": dj_database_url.parse(
            os.environ["DATABASE_URL"],
            conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60" if PRODUCTION else "0")),
            conn_health_checks=True,
        )
    }
elif os.environ.get("DATABASE_ENGINE") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("PGDATABASE", "scim_portal"),
            "USER": os.environ.get("PGUSER", ""),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
            "HOST": os.environ.get("PGHOST", ""),
            "PORT": os.environ.get("PGPORT", ""),
            "CONN_MAX_AGE": int(os.environ.get("CONN_MAX_AGE", "60" if PRODUCTION else "0")),
            "CONN_HEALTH_CHECKS": True,
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", BASE_DIR / "db.sqlite3"),
        }
    }
if "postgresql" in DATABASES["default"]["ENGINE"]:
    # An unreachable host (not a refused port) answers 503 in seconds, not a worker timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "3"))
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
if env_flag("DATABASE_TRANSACTION_POOLING", False):
    # PgBouncer (or another pooler) in transaction mode: consecutive transactions of one
    # Django connection may run on different server connections. A server-side cursor
    # (QuerySet.iterator()) lives on the server connection that declared it, and so does
    # a prepared statement: both would be looked for on the wrong one. psycopg 3 prepares
    # a query after five executions unless prepare_threshold is None (Django's default;
    # said here so that no OPTIONS override turns it back on).
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None

CACHE_URL = os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL")
if CACHE_URL:
    if urlsplit(CACHE_URL).scheme not in ("redis", "rediss", "unix"):
        raise ImproperlyConfigured(
            f"CACHE_URL/REDIS_URL must be a redis://, rediss:// or unix:// URL, not {CACHE_URL!r}."
        )
    # One cache for every process and machine: rate limits and list totals are shared.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "scim-portal"),
            # A Redis that hangs (not one that refuses) must cost a second, not a worker:
            # the app then leaves the cache alone for a while (scim_portal._cache).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# No guardian "anonymous user" row: anonymous visitors have no permissions here.
ANONYMOUS_USER_NAME = None

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
# The languages the portal is translated into (scim_portal/locale/).
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français")]
# The example project's own words (its header, login and account pages); the app brings its own.
LOCALE_PATHS = [BASE_DIR / "example_project" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "build" / "static"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The tenant model, named the way AUTH_USER_MODEL names the user model.
SCIM_PORTAL_ACCOUNT_MODEL = "accounts.Account"
SCIM_PORTAL = {
    "MEMBERSHIPS": "example_project.accounts.scim.Memberships",
    "PUBLIC_URL": PUBLIC_URL,
    # DNS servers that domain verification asks, e.g. "127.0.0.1:5353" (comma-separated);
    # unset: the system's resolver.
    "DNS_NAMESERVERS": [ns for ns in os.environ.get("DNS_NAMESERVERS", "").split(",") if ns]
    or None,
}
# `simulate_idp --auth jwt` publishes a federated issuer's keys at http://127.0.0.1, which
# the app refuses to fetch (http, a loopback address) unless both switches are on.
# SCIM_PORTAL_DEV_FEDERATION=1 turns them on, in the demo profile only: in production the
# guard against fetching internal addresses must stay.
# The demo delivers webhooks to http:// and loopback receivers (a receiver on your own
# machine); production keeps endpoints to public https addresses.
if not PRODUCTION:
    SCIM_PORTAL["WEBHOOK_ALLOW_INSECURE"] = True

if env_flag("SCIM_PORTAL_DEV_FEDERATION", False):
    if PRODUCTION:
        raise ImproperlyConfigured(
            "SCIM_PORTAL_DEV_FEDERATION lets federation fetch keys over http and from private "
            "addresses: it is for the demo profile only; unset it."
        )
    SCIM_PORTAL |= {"FEDERATION_ALLOW_HTTP": True, "FEDERATION_ALLOW_PRIVATE_NETWORKS": True}

if PRODUCTION:
    # Compressed, content-hashed files that browsers may cache for ever; run
    # `manage.py collectstatic` before serving (make serve does).
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

    # Served over HTTPS (a TLS-terminating proxy in front, which gunicorn trusts through
    # forwarded_allow_ips): cookies only over HTTPS, HSTS, and plain HTTP redirected.
    # A PUBLIC_URL with http:// (make serve on 127.0.0.1) turns these off.
    SECURE_SSL_REDIRECT = env_flag("SECURE_SSL_REDIRECT", HTTPS)
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000")) if HTTPS else 0
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_flag("SECURE_HSTS_PRELOAD", True)
    if os.environ.get("PUBLIC_URL"):
        CSRF_TRUSTED_ORIGINS.append(PUBLIC_URL.rstrip("/"))

    # One line per record on stdout, with a timestamp and the request's id (the
    # X-Request-ID the load balancer sent, or one made here; gunicorn's access log
    # prints the same id).
    LOGGING = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "example_project.request_id.RequestIdFilter"}},
        "formatters": {
            "line": {
                "format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s",
            }
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "filters": ["request_id"],
                "formatter": "line",
            }
        },
        "root": {"handlers": ["stdout"], "level": os.environ.get("LOG_LEVEL", "INFO")},
        "loggers": {
            "django": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        },
    }
