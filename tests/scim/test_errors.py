"""Every failure under the SCIM prefix is a SCIM Error; malformed input never gets a 5xx."""

import json

import pytest

pytestmark = pytest.mark.django_db

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def assert_scim_error(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status) and body["detail"]
    return body


def test_unknown_endpoint_and_method_not_allowed(scim):
    assert_scim_error(scim.get("/Nope"), 404)
    assert_scim_error(scim.delete("/Users"), 405)
    assert_scim_error(scim.put("/ServiceProviderConfig", {}), 405)


def test_request_body_too_large_is_413(scim, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    assert_scim_error(scim.post("/Users", {"userName": "x" * 2000}), 413)


MALFORMED_BODIES = [
    "{not json",
    "[]",
    '"a string"',
    "null",
    "123",
    json.dumps({"userName": None}),
    json.dumps({"userName": ["list"]}),
    json.dumps({"userName": {"obj": 1}}),
    json.dumps({"userName": "ok", "emails": "not-a-list"}),
    json.dumps({"userName": "ok", "emails": [{"value": "not an email"}]}),
    json.dumps({"userName": "ok", "active": "maybe"}),
    json.dumps({"userName": "ok", "name": "flat"}),
    json.dumps({"userName": "ok", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": 5}),
    json.dumps({"userName": "\u0000"}),
]


@pytest.mark.parametrize("body", MALFORMED_BODIES)
def test_malformed_user_bodies_are_4xx(scim, body):
    response = scim.post("/Users", body)
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["schemas"] == [ERROR]


MALFORMED_PATCHES = [
    {},
    {"Operations": "nope"},
    {"Operations": []},
    {"Operations": [1]},
    {"Operations": [{"path": "title"}]},
    {"Operations": [{"op": "explode", "path": "title", "value": 1}]},
    {"Operations": [{"op": "replace", "path": 5, "value": 1}]},
    {"Operations": [{"op": "replace", "path": "bogus[[", "value": 1}]},
    {"Operations": [{"op": "replace", "path": "id", "value": "new"}]},
    {"Operations": [{"op": "remove"}]},
    {"Operations": [{"op": "replace", "path": "emails", "value": "x"}]},
    {"Operations": [{"op": "replace", "path": "userName", "value": None}]},
    {"Operations": [{"op": "add", "value": "not-an-object"}]},
]


@pytest.mark.parametrize("body", MALFORMED_PATCHES)
def test_malformed_user_patches_are_4xx_and_change_nothing(scim, body):
    user = scim.create_user("patched@example.com", title="Keep")
    response = scim.patch(f"/Users/{user['id']}", body)
    assert 400 <= response.status_code < 500, (body, response.content)
    assert response.json()["schemas"] == [ERROR]
    after = scim.get(f"/Users/{user['id']}").json()
    assert after["meta"]["version"] == user["meta"]["version"] and after["title"] == "Keep"


@pytest.mark.parametrize(
    "body",
    [
        {"Operations": [{"op": "add", "path": "members", "value": "x"}]},
        {"Operations": [{"op": "add", "path": "members", "value": [{"display": "no value"}]}]},
        {"Operations": [{"op": "add", "path": "members", "value": [{"value": "not-a-uuid"}]}]},
        {"Operations": [{"op": "add", "path": "members", "value": [{"value": 5}]}]},
        {"Operations": [{"op": "remove", "path": "members[value eq"}]},
        {"Operations": [{"op": "replace", "path": "displayName", "value": ""}]},
    ],
)
def test_malformed_group_patches_are_4xx(scim, body):
    group = scim.create_group("Stable")
    response = scim.patch(f"/Groups/{group['id']}", body)
    assert 400 <= response.status_code < 500, (body, response.content)
    assert scim.get(f"/Groups/{group['id']}").json()["displayName"] == "Stable"


@pytest.mark.parametrize(
    "params",
    [
        {"filter": "x" * 5000},
        {"startIndex": "abc"},
        {"sortOrder": "sideways"},
        {"sortBy": "[["},
        {"attributes": "[[bad"},
        {"filter": 'emails[type eq "work"'},
        {"filter": '"just a string"'},
    ],
)
def test_malformed_queries_are_4xx(scim, params):
    response = scim.get("/Users", **params)
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["schemas"] == [ERROR]


def test_deeply_nested_filter_is_answered(scim):
    response = scim.get("/Users", filter="(" * 200 + 'userName eq "a"' + ")" * 200)
    assert response.status_code < 500


@pytest.mark.parametrize("value", ["a\x00b", "\x00"])
def test_nul_in_filter_or_path_is_400(scim, value):
    assert_scim_error(scim.get("/Users", filter=f'userName eq "{value}"'), 400)


def test_unexpected_errors_are_a_safe_scim_500(scim, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr("scim_portal.provisioning.directory.create_user", explode)
    response = scim.post("/Users", {"userName": "boom@example.com"})
    body = assert_scim_error(response, 500)
    assert "hunter2" not in response.content.decode() and "RuntimeError" not in body["detail"]
