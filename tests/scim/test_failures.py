"""Every failure gets a SCIM answer: JSON, the right status, never HTML."""

import logging

import pytest
from django.core.cache.backends.base import BaseCache
from django.db import OperationalError

from scim_portal.models import Credential, DirectoryUser, RequestLog
from scim_portal.scim import exceptions

ERROR = exceptions.ERROR_SCHEMA

pytestmark = pytest.mark.django_db


def nested(depth):
    return '{"userName": "deep", "x": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize("depth", [65, 5000, 100_000])
def test_over_deep_json_is_invalid_syntax(scim, depth):
    response = scim.post("/Users", nested(depth))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/scim+json"
    assert response.json()["scimType"] == "invalidSyntax"
    assert not DirectoryUser.objects.exists()
    assert RequestLog.objects.get().status == 400


def test_json_as_deep_as_scim_needs_is_accepted(scim):
    assert scim.post("/Users", nested(30)).status_code == 201


@pytest.mark.parametrize("op", ["add", "replace", "Replace"])
@pytest.mark.parametrize("path", ["title", None])
def test_add_or_replace_without_a_value_is_invalid_value(scim, op, path):
    user = scim.create_user("novalue@example.com", title="Kept")
    operation = {"op": op, **({"path": path} if path else {})}
    response = scim.patch_ops(f"/Users/{user['id']}", operation)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    assert "needs a 'value'" in response.json()["detail"]
    assert scim.get(f"/Users/{user['id']}").json()["title"] == "Kept"


def test_database_unavailable_is_a_503_with_integer_retry_after(scim, monkeypatch, caplog):
    def down(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(type(Credential.objects), "by_secret", down)
    with caplog.at_level(logging.ERROR, logger="scim_portal.scim"):
        response = scim.get("/Users")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/scim+json"
    assert response["Retry-After"] == str(exceptions.DATABASE_RETRY_AFTER)
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == "503"
    assert "Connection refused" not in body["detail"]
    assert len([r for r in caplog.records if "Database unavailable" in r.message]) == 1


def test_an_unexpected_error_is_a_500_naming_its_request_id(scim, monkeypatch, caplog):
    def boom(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("scim_portal.scim.views.resources.SearchParameters.from_query", boom)
    with caplog.at_level(logging.ERROR, logger="scim_portal.scim"):
        response = scim.get("/Users")
    assert response.status_code == 500 and response.json()["schemas"] == [ERROR]
    request_id = response["X-Request-ID"]
    assert request_id in response.json()["detail"] and "a bug" not in response.json()["detail"]
    assert any(request_id in record.getMessage() for record in caplog.records)
    entry = RequestLog.objects.get(status=500)
    assert request_id in entry.detail and entry.request_id == request_id


def test_the_portal_shows_a_requests_id_and_warning(scim, client):
    from tests.factories import UserFactory

    scim.post("/Users", {"userName": "w", "emails": [{"value": "w@unverified.example"}]})
    entry = RequestLog.objects.get()
    admin = UserFactory(is_superuser=True)
    client.force_login(admin)
    account = scim.connection.account.handle
    page = client.get(f"/provisioning/{account}/{scim.connection.pk}/logs/{entry.pk}/")
    text = page.content.decode()
    assert entry.request_id in text and "outside the account" in text


def test_the_load_balancers_request_id_is_kept_and_a_forged_one_is_not(scim):
    response = scim.get("/Users", headers={"X-Request-ID": "lb-4f2a9c0e-77"})
    assert response["X-Request-ID"] == "lb-4f2a9c0e-77"
    assert RequestLog.objects.get().request_id == "lb-4f2a9c0e-77"
    response = scim.get("/Users", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert len(response["X-Request-ID"]) == 16 and "<" not in response["X-Request-ID"]


class UnreachableCache(BaseCache):
    """A cache whose server is down: every operation raises."""

    def __init__(self, *args, **kwargs):
        super().__init__({})

    def _fail(self, *args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    add = get = set = incr = delete = touch = get_many = set_many = delete_many = _fail
    clear = has_key = _fail


def test_an_unreachable_cache_serves_requests_without_a_rate_limit(scim, settings, caplog):
    settings.CACHES = {"default": {"BACKEND": f"{__name__}.UnreachableCache"}}
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "RATE_LIMIT_PER_MINUTE": 1}
    with caplog.at_level(logging.WARNING, logger="scim_portal.scim"):
        statuses = [scim.get("/Users").status_code for _ in range(3)]
        created = scim.post("/Users", {"userName": "cacheless@example.com"}).status_code
    assert statuses == [200, 200, 200] and created == 201
    warnings = [r.message for r in caplog.records if "cache is unreachable" in r.message]
    assert len(warnings) == 1 and "rate limit off" in warnings[0]  # once, then left alone


class _Cause(Exception):
    def __init__(self, message, sqlstate=None):
        super().__init__(message)
        self.sqlstate = sqlstate


def _operational(message, sqlstate=None):
    error = OperationalError(message)
    error.__cause__ = _Cause(message, sqlstate)
    return error


@pytest.mark.parametrize(
    ("error", "wait"),
    [
        (_operational("connection to server failed: Connection refused"), 30),
        (_operational("terminating connection due to administrator command", "57P01"), 30),
        (_operational("sorry, too many clients already", "53300"), 30),
        (_operational("could not serialize access", "40001"), 2),
        (_operational("database is locked"), 2),
        (_operational("canceling statement due to statement timeout", "57014"), None),
        (_operational("no such table: scim_portal_directoryuser"), None),
    ],
)
def test_only_database_conditions_a_retry_gets_past_are_503(error, wait):
    assert exceptions.retry_after(error) == wait
