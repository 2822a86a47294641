"""Settings of one node (one "machine") in tests/test_many_nodes.py: the test settings,
plus what a production node has and a single process lacks — Redis as Django's cache
(REDIS_URL), the database reached through PgBouncer in transaction mode
(DATABASE_TRANSACTION_POOLING=1, PGHOST/PGPORT naming PgBouncer) — and a rate limit low
enough to reach (RATE_LIMIT_PER_MINUTE)."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, SCIM_PORTAL

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    }
# Persistent connections, as example_project's production profile keeps them.
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("CONN_MAX_AGE", "0"))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if os.environ.get("DATABASE_TRANSACTION_POOLING") == "1":
    # As example_project/settings.py does (see there and docs/deployment.md): no
    # server-side cursors, no prepared statements.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"]["OPTIONS"] = {"prepare_threshold": None}
SCIM_PORTAL = {
    **SCIM_PORTAL,
    "RATE_LIMIT_PER_MINUTE": int(os.environ.get("RATE_LIMIT_PER_MINUTE", "6000")),
}
