"""tests/settings.py with the benchmark's django-scim2 peer as the host: its user and group
models, its SCIM_SERVICE_PROVIDER and bearer tokens, and a tenant model of its own."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "peer"))

from peer.settings import SCIM_SERVICE_PROVIDER

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "tests.testapp"] + [
    "django_scim",
    "peer",
    "tests.django_scim2_host",
]
AUTH_USER_MODEL = "peer.User"
# The peer's bearer tokens for django-scim2's views. Not django-scim2's
# SCIMAuthCheckMiddleware: it answers 401 to every path under /scim/v2/, the app's
# connections included (django-scim2's views check authentication themselves).
MIDDLEWARE = [*MIDDLEWARE, "peer.auth.BearerTokenMiddleware"]
ROOT_URLCONF = "tests.django_scim2_host.urls"
SCIM_PORTAL_ACCOUNT_MODEL = "scim2host.Team"
SCIM_PORTAL = {
    "ACCOUNT_LOOKUP_FIELD": "slug",
    "PUBLIC_URL": "https://saas.example.test",
    "MEMBERSHIPS": "tests.django_scim2_host.memberships.TeamMemberships",
}
SCIM_SERVICE_PROVIDER = {**SCIM_SERVICE_PROVIDER}
# Its own test database beside the suite's, which is open while this runs.
DATABASES = {"default": {**DATABASES["default"], "TEST": {"NAME": "test_django_scim2_host"}}}  # noqa: F405
