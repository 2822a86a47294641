"""Limits: every one a SCIM error, configurable, advertised where SCIM has a field."""

import pytest
from django.core.cache import cache

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def limit(settings, **values):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, **values}


def test_rate_limit_per_connection_is_429_with_retry_after(scim, other_scim, settings):
    limit(settings, RATE_LIMIT_PER_MINUTE=3)
    assert [scim.get("/Users").status_code for _ in range(3)] == [200, 200, 200]
    refused = scim.get("/Users")
    assert refused.status_code == 429
    assert refused.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert 1 <= int(refused["Retry-After"]) <= 61
    assert other_scim.get("/Users").status_code == 200  # counted per connection


def test_rate_limit_can_be_disabled(scim, settings):
    limit(settings, RATE_LIMIT_PER_MINUTE=None)
    assert {scim.get("/Users").status_code for _ in range(20)} == {200}


def test_request_body_size_is_413(scim, settings):
    limit(settings, MAX_REQUEST_BYTES=200)
    response = scim.post("/Users", {"userName": "x@example.com", "title": "t" * 300})
    assert response.status_code == 413 and "200 bytes" in response.json()["detail"]
    assert scim.post("/Users", {"userName": "small@example.com"}).status_code == 201


def test_patch_operation_count_is_413(scim, settings):
    limit(settings, MAX_PATCH_OPERATIONS=2)
    user = scim.create_user("ops@example.com")
    op = {"op": "replace", "path": "title", "value": "x"}
    assert scim.patch_ops(f"/Users/{user['id']}", op, op).status_code == 200
    assert scim.patch_ops(f"/Users/{user['id']}", op, op, op).status_code == 413


def test_filter_length_and_depth(scim, settings):
    limit(settings, MAX_FILTER_LENGTH=60, MAX_FILTER_DEPTH=3)
    long = scim.get("/Users", filter='userName eq "' + "x" * 60 + '"')
    assert long.status_code == 400 and long.json()["scimType"] == "invalidFilter"
    deep = scim.get("/Users", filter="title pr and (title pr or not (title pr))")
    assert deep.status_code == 400 and "nest" in deep.json()["detail"]
    assert scim.get("/Users", filter="title pr and (title pr or title pr)").status_code == 200


def test_bulk_limits_are_advertised(scim, settings):
    limit(settings, BULK_MAX_OPERATIONS=7, BULK_MAX_PAYLOAD_SIZE=5000, MAX_PAGE_SIZE=50)
    config = scim.get("/ServiceProviderConfig").json()
    assert config["bulk"]["maxOperations"] == 7 and config["bulk"]["maxPayloadSize"] == 5000
    assert config["filter"]["maxResults"] == 50
    big = {"Operations": [{"method": "POST", "path": "/Users", "bulkId": "a",
                           "data": {"userName": "x" * 6000}}]}  # fmt: skip
    assert scim.post("/Bulk", big).status_code == 413


def test_a_throttled_request_is_logged_with_its_token(scim, settings):
    from scim_portal.models import RequestLog

    limit(settings, RATE_LIMIT_PER_MINUTE=1)
    scim.get("/Users")
    assert scim.get("/Users").status_code == 429
    refused = RequestLog.objects.get(status=429)
    assert refused.token_prefix == scim.connection.credentials.get().prefix
    assert "More than 1 requests a minute" in refused.detail
