"""Filters (INTEROP.md checklist 5, 6, 7) and paging (8), all run in the database."""

import pytest

pytestmark = pytest.mark.django_db

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
def people(scim):
    """Three users with distinguishable attributes; returns userName -> id."""
    ids = {}
    for user_name, extra in {
        "alice@example.com": {
            "externalId": "A-1",
            "displayName": "Alice Liddell",
            "name": {"givenName": "Alice", "familyName": "Liddell"},
            "emails": [
                {"value": "alice@example.com", "type": "work", "primary": True},
                {"value": "alice@home.example", "type": "home"},
            ],
            "title": "Engineer",
            "active": True,
            ENTERPRISE: {"employeeNumber": "1001", "department": "R&D"},
        },
        "bob@example.com": {
            "externalId": "b-2",
            "displayName": "Bob Builder",
            "name": {"givenName": "Bob", "familyName": "Builder"},
            "emails": [{"value": "bob@example.com", "type": "work"}],
            "active": False,
            ENTERPRISE: {"employeeNumber": "1002"},
        },
        "carol@other.example": {
            "displayName": "Carol",
            "emails": [{"value": "carol@other.example", "type": "home"}],
            "phoneNumbers": [{"value": "+1 555 0100", "type": "mobile"}],
        },
    }.items():
        ids[user_name] = scim.create_user(user_name, **extra)["id"]
    return ids


def names(scim, expression, **params):
    response = scim.get("/Users", filter=expression, **params)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["totalResults"] == len(body["Resources"]) or params
    return sorted(resource["userName"] for resource in body["Resources"])


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('userName eq "ALICE@example.com"', ["alice@example.com"]),
        ('USERNAME Eq "alice@example.com"', ["alice@example.com"]),
        ('userName ne "alice@example.com"', ["bob@example.com", "carol@other.example"]),
        ('userName co "EXAMPLE.COM"', ["alice@example.com", "bob@example.com"]),
        ('userName sw "b"', ["bob@example.com"]),
        ('userName ew "@other.example"', ["carol@other.example"]),
        ('userName gt "bob@example.com"', ["carol@other.example"]),
        ('userName ge "bob@example.com"', ["bob@example.com", "carol@other.example"]),
        ('userName lt "bob@example.com"', ["alice@example.com"]),
        ('userName le "bob@example.com"', ["alice@example.com", "bob@example.com"]),
        ('externalId eq "A-1"', ["alice@example.com"]),
        ('externalId eq "a-1"', []),  # caseExact
        ("externalId eq b-2", ["bob@example.com"]),  # Entra's unquoted value
        ("externalId pr", ["alice@example.com", "bob@example.com"]),
        ('displayName eq "bob builder"', ["bob@example.com"]),
        ('name.givenName sw "AL"', ["alice@example.com"]),
        ('name.familyName eq "builder"', ["bob@example.com"]),
        ("title pr", ["alice@example.com"]),
        ("active eq true", ["alice@example.com"]),  # carol never had ``active`` set
        ("active pr", ["alice@example.com", "bob@example.com"]),
        ('active eq "False"', ["bob@example.com"]),
        ('emails eq "alice@home.example"', ["alice@example.com"]),
        ('emails.value eq "BOB@example.com"', ["bob@example.com"]),
        ('emails[type eq "work"].value eq "alice@example.com"', ["alice@example.com"]),
        ('emails[type eq "work"].value eq "alice@home.example"', []),
        ('emails[type eq "home" and value co "other"]', ["carol@other.example"]),
        ("emails[primary eq true]", ["alice@example.com"]),
        ('emails.type eq "home"', ["alice@example.com", "carol@other.example"]),
        ("phoneNumbers pr", ["carol@other.example"]),
        ('phoneNumbers[type eq "mobile"].value eq "+1 555 0100"', ["carol@other.example"]),
        (f'{ENTERPRISE}:employeeNumber eq "1002"', ["bob@example.com"]),
        (f"{ENTERPRISE}:department pr", ["alice@example.com"]),
        (
            'meta.created gt "2000-01-01T00:00:00Z"',
            ["alice@example.com", "bob@example.com", "carol@other.example"],
        ),
        ('meta.lastModified lt "2000-01-01T00:00:00Z"', []),
        (
            'userName sw "a" or userName sw "b" and active eq true',
            ["alice@example.com"],  # and binds tighter than or
        ),
        ('(userName sw "a" or userName sw "b") and active eq false', ["bob@example.com"]),
        ('not (userName sw "a")', ["bob@example.com", "carol@other.example"]),
        ('not (emails[type eq "work"])', ["carol@other.example"]),
        ('userName eq "nobody@example.com"', []),
    ],
)
def test_filter(scim, people, expression, expected):
    assert names(scim, expression) == expected


def test_filter_by_id(scim, people):
    alice = people["alice@example.com"]
    assert names(scim, f'id eq "{alice}"') == ["alice@example.com"]
    assert names(scim, 'id eq "not-a-uuid"') == []


def test_filter_by_group_membership(scim, people):
    group = scim.create_group("Readers", [people["bob@example.com"]])
    assert names(scim, f'groups.value eq "{group["id"]}"') == ["bob@example.com"]
    found = scim.get("/Groups", filter=f'members.value eq "{people["bob@example.com"]}"').json()
    assert [g["displayName"] for g in found["Resources"]] == ["Readers"]


@pytest.mark.parametrize(
    "expression",
    [
        "userName eq",
        'userName xx "a"',
        '(userName eq "a"',
        'bogusAttribute eq "x"',
        "active gt true",
        'meta.created eq "yesterday"',
        'emails[type eq "work"',
        'userName eq "a" and',
        'meta.version eq "W/1"',
        'emails[value eq "x"][type eq "y"]',
    ],
)
def test_invalid_or_unsupported_filter_is_400_invalid_filter(scim, people, expression):
    response = scim.get("/Users", filter=expression)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"


def test_group_filters(scim):
    scim.create_group("Engineering")
    scim.create_group("Sales")
    found = scim.get("/Groups", filter='displayName eq "ENGINEERING"').json()
    assert [g["displayName"] for g in found["Resources"]] == ["Engineering"]
    assert scim.get("/Groups", filter='displayName eq "nope"').json()["totalResults"] == 0


# Paging


def test_paging_is_one_based_stable_and_integer(scim):
    created = [scim.create_user(f"user{i:02}@example.com")["userName"] for i in range(7)]
    seen = []
    for start in (1, 4, 7):
        body = scim.get("/Users", startIndex=start, count=3).json()
        assert isinstance(body["totalResults"], int) and body["totalResults"] == 7
        assert body["startIndex"] == start
        assert body["itemsPerPage"] == len(body["Resources"])
        seen += [r["userName"] for r in body["Resources"]]
    assert seen == created  # creation order, no gaps or repeats


@pytest.mark.parametrize(
    ("sort", "order"), [({}, False), ({"sortBy": "userName", "sortOrder": "descending"}, True)]
)
def test_pages_keep_order_and_memberships(scim, sort, order):
    users = [scim.create_user(f"deep{i:02}@example.com") for i in range(8)]
    scim.create_group("Odd", [u["id"] for u in users[1::2]])
    expected = sorted((u["userName"] for u in users), reverse=order)
    seen = []
    for start in (1, 4, 7):
        body = scim.get("/Users", startIndex=start, count=3, **sort).json()
        assert body["totalResults"] == 8
        for resource in body["Resources"]:
            odd = int(resource["userName"][4:6]) % 2 == 1
            assert [g["display"] for g in resource.get("groups", [])] == (["Odd"] if odd else [])
        seen += [r["userName"] for r in body["Resources"]]
    assert seen == expected


def test_root_search_pages_across_users_and_groups(scim):
    for i in range(3):
        scim.create_user(f"root{i}@example.com")
    scim.create_group("Team")
    body = scim.post(
        "/.search",
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
         "startIndex": 3, "count": 2},
    ).json()  # fmt: skip
    assert body["totalResults"] == 4
    assert [r.get("userName") or r.get("displayName") for r in body["Resources"]] == [
        "root2@example.com",
        "Team",
    ]


@pytest.mark.parametrize(
    ("params", "start", "items"),
    [
        ({}, 1, 3),
        ({"startIndex": 0}, 1, 3),
        ({"startIndex": -5, "count": 2}, 1, 2),
        ({"count": 0}, 1, 0),
        ({"count": -1}, 1, 0),
        ({"startIndex": 10}, 10, 0),
    ],
)
def test_paging_edges(scim, params, start, items):
    for i in range(3):
        scim.create_user(f"edge{i}@example.com")
    body = scim.get("/Users", **params).json()
    assert (body["startIndex"], body["itemsPerPage"], body["totalResults"]) == (start, items, 3)


def test_count_is_capped_by_the_server_maximum(scim, settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "MAX_PAGE_SIZE": 2}
    for i in range(3):
        scim.create_user(f"cap{i}@example.com")
    assert scim.get("/Users", count=50).json()["itemsPerPage"] == 2


def test_non_integer_paging_is_400(scim):
    assert scim.get("/Users", count="ten").status_code == 400


def test_sorting(scim, people):
    body = scim.get("/Users", sortBy="name.givenName", sortOrder="descending").json()
    assert [r["userName"] for r in body["Resources"]][:2] == [
        "bob@example.com",
        "alice@example.com",
    ]
    body = scim.get("/Users", sortBy="userName").json()
    assert [r["userName"] for r in body["Resources"]] == sorted(people)
    assert scim.get("/Users", sortBy="emails").status_code == 400


def test_search_endpoints(scim, people):
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName sw "a"',
        "attributes": ["userName"],
        "count": 10,
    }
    response = scim.post("/Users/.search", body)
    assert response.status_code == 200
    assert [set(r) for r in response.json()["Resources"]] == [{"schemas", "id", "userName"}]
    scim.create_group("Alpha")
    root = scim.post("/.search", {**body, "filter": 'displayName sw "al"', "attributes": []})
    kinds = sorted(r["meta"]["resourceType"] for r in root.json()["Resources"])
    assert kinds == ["Group", "User"]
