"""django-scim-portal as the benchmark serves it: the test host, PostgreSQL, no rate
limits (SCIM requests and the token endpoint)."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import MIDDLEWARE, SCIM_PORTAL

DEBUG = False
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("PORTAL_DATABASE", "bench_portal"),
        "USER": os.environ.get("PGUSER", ""),
        "HOST": os.environ.get("PGHOST", ""),
        "PORT": os.environ.get("PGPORT", ""),
        "CONN_MAX_AGE": 60,
    }
}
ROOT_URLCONF = "bench.portal_urls"
MIDDLEWARE = ["bench.querycount.QueryCountMiddleware", *MIDDLEWARE]
SCIM_PORTAL = {**SCIM_PORTAL, "RATE_LIMIT_PER_MINUTE": None, "TOKEN_RATE_LIMIT_PER_MINUTE": None}
