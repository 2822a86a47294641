import pytest

pytestmark = pytest.mark.django_db

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def bulk(scim, operations, **extra):
    return scim.post("/Bulk", {"schemas": [BULK], "Operations": operations, **extra})


def test_bulk_ids_link_operations(scim):
    response = bulk(
        scim,
        [
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "ada",
                "data": {"userName": "ada@example.com"},
            },
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "eng",
                "data": {"displayName": "Eng", "members": [{"value": "bulkId:ada"}]},
            },
            {
                "method": "PATCH",
                "path": "/Users/bulkId:ada",
                "data": {"Operations": [{"op": "replace", "path": "title", "value": "Countess"}]},
            },
        ],
    )
    assert response.status_code == 200
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["201", "201", "200"]
    user_id = results[0]["location"].rsplit("/", 1)[1]
    group = scim.get(results[1]["location"].split(scim.base)[1]).json()
    assert [m["value"] for m in group["members"]] == [user_id]
    assert scim.get(f"/Users/{user_id}").json()["title"] == "Countess"


def test_bulk_errors_are_per_operation_and_fail_on_errors_stops(scim):
    scim.create_user("taken@example.com")
    operations = [
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": "a",
            "data": {"userName": "taken@example.com"},
        },
        {"method": "PATCH", "path": "/Users/bulkId:missing", "data": {"Operations": []}},
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": "c",
            "data": {"userName": "late@example.com"},
        },
    ]
    results = bulk(scim, operations, failOnErrors=2).json()["Operations"]
    assert [r["status"] for r in results] == ["409", "409"]
    assert results[0]["response"]["scimType"] == "uniqueness"
    assert scim.get("/Users", filter='userName eq "late@example.com"').json()["totalResults"] == 0
    results = bulk(scim, operations).json()["Operations"]
    assert [r["status"] for r in results] == ["409", "409", "201"]


def test_bulk_limits_are_enforced(scim, settings):
    settings.SCIM_PORTAL = {
        **settings.SCIM_PORTAL,
        "BULK_MAX_OPERATIONS": 2,
        "BULK_MAX_PAYLOAD_SIZE": 500,
    }
    op = {"method": "DELETE", "path": "/Users/x"}
    assert bulk(scim, [op, op, op]).status_code == 413
    big = {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "x" * 600}}
    assert bulk(scim, [big]).status_code == 413
    assert scim.get("/ServiceProviderConfig").json()["bulk"]["maxOperations"] == 2


@pytest.mark.parametrize(
    "operation",
    [
        {"method": "POST", "path": "/Users", "data": {"userName": "no-bulk-id@example.com"}},
        {"method": "GET", "path": "/Users"},
        {"method": "POST", "path": "/Nope", "bulkId": "x", "data": {}},
        {"method": "DELETE", "path": "/Users"},
        "not an object",
    ],
)
def test_bulk_invalid_operations_are_reported(scim, operation):
    response = bulk(scim, [operation])
    assert response.status_code == 200
    assert response.json()["Operations"][0]["status"] == "400"


def test_bulk_request_must_be_an_object_with_operations(scim):
    assert scim.post("/Bulk", []).status_code == 400
    assert scim.post("/Bulk", {"Operations": "x"}).status_code == 400
