"""Cursor paging (RFC 9865, INTEROP.md checklist 28) beside index paging."""

import base64
import json
import string
import time

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from scim_portal.models import DirectoryUser
from scim_portal.scim import cursors

pytestmark = pytest.mark.django_db

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def bulk_users(connection, count, prefix="walk", **columns):
    return DirectoryUser.objects.bulk_create(
        DirectoryUser(
            connection=connection,
            user_name=f"{prefix}{i:05}@example.com",
            attributes={"schemas": [USER_SCHEMA], "userName": f"{prefix}{i:05}@example.com"},
            **columns,
        )
        for i in range(count)
    )


def ids_in_order(connection):
    users = DirectoryUser.objects.filter(connection=connection).order_by("id")
    return [str(pk) for pk in users.values_list("id", flat=True)]


def page(scim, path="/Users", **params):
    response = scim.get(path, **params)
    assert response.status_code == 200, response.content
    return response.json()


def walk(scim, path="/Users", between=None, **params):
    """Every page from an empty cursor to the last, following ``nextCursor``;
    ``between(number)`` runs after each page but the last."""
    pages = [page(scim, path, cursor="", **params)]
    while "nextCursor" in pages[-1]:
        if between is not None:
            between(len(pages))
        pages.append(page(scim, path, cursor=pages[-1]["nextCursor"], **params))
    return pages


def seen(pages, key="id"):
    return [resource[key] for body in pages for resource in body["Resources"]]


def scim_error(response, scim_type):
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == "400"
    assert body["scimType"] == scim_type, body
    assert "Resources" not in body
    return body


def test_a_walk_of_1050_users_sees_each_once(scim):
    bulk_users(scim.connection, 1050)
    pages = walk(scim, count=100)
    assert [len(body["Resources"]) for body in pages] == [100] * 10 + [50]
    assert seen(pages) == ids_in_order(scim.connection)
    assert all(body["totalResults"] == 1050 for body in pages)
    assert all(body["itemsPerPage"] == len(body["Resources"]) for body in pages)
    assert all("startIndex" not in body for body in pages)
    # nextCursor on every page but the last; previousCursor on every page but the first
    assert "previousCursor" not in pages[0]
    assert all("previousCursor" in body for body in pages[1:])
    assert all(cursors.UNRESERVED.fullmatch(body["nextCursor"]) for body in pages[:-1])


def test_the_bare_cursor_parameter_asks_for_the_first_page(scim):
    bulk_users(scim.connection, 3)
    body = page(scim, "/Users?cursor&count=2")
    assert len(body["Resources"]) == 2 and "nextCursor" in body and "startIndex" not in body
    assert page(scim, count=2)["startIndex"] == 1  # no cursor: index paging, the default
    assert "nextCursor" not in page(scim, count=2)


def test_a_walk_survives_creates_and_deletes_between_pages(scim):
    bulk_users(scim.connection, 250)
    before = ids_in_order(scim.connection)
    deleted, created = set(), []

    def change(number):
        # The last user of the page just read (the cursor's own row), one further on
        # that is not read yet, and one already read; and a newcomer.
        for victim in (before[number * 50 - 1], before[number * 50 + 7], before[3 * number]):
            if victim not in deleted:
                assert scim.delete(f"/Users/{victim}").status_code == 204
                deleted.add(victim)
        created.append(scim.create_user(f"new{number}@example.com")["id"])

    pages = walk(scim, between=change, count=50)
    ids = seen(pages)
    assert len(ids) == len(set(ids))  # no duplicates
    read_before_deleted = {before[n * 50 - 1] for n in range(1, 6)} | {
        before[3 * n] for n in range(1, 6)
    }
    expected = [pk for pk in before if pk not in deleted or pk in read_before_deleted]
    assert [pk for pk in ids if pk in set(before)] == expected
    assert [pk for pk in ids if pk not in set(before)] == created  # ids grow with time


@pytest.fixture
def directory(scim):
    """Users with ties, gaps and case differences in the attributes sorted on below."""
    for i in range(23):
        extra = {"name": {"familyName": ["Zeta", "alpha", "Beta"][i % 3]}} if i % 4 else {}
        if i % 5:
            extra["externalId"] = f"ext-{i % 7}"
        scim.create_user(
            f"{'AB'[i % 2]}user{i:02}@example.com", active=bool(i % 3), title=f"T{i % 2}", **extra
        )
    return scim


@pytest.mark.parametrize(
    "query",
    [
        {"sortBy": "userName"},
        {"sortBy": "userName", "sortOrder": "descending"},
        {"sortBy": "name.familyName"},  # in the JSON document, missing for some: last
        {"sortBy": "name.familyName", "sortOrder": "descending"},
        {"sortBy": "externalId", "sortOrder": "descending"},  # a nullable column
        {"sortBy": "active"},  # a few values, many ties: id decides
        {"sortBy": "meta.created", "sortOrder": "descending"},
        {"sortBy": "id"},
        {"filter": 'title eq "T1"', "sortBy": "name.familyName"},
        {"filter": 'userName sw "a" or active eq false'},
    ],
)
def test_filtered_and_sorted_walks_follow_the_index_order(directory, query):
    expected = page(directory, count=1000, **query)
    pages = walk(directory, count=4, **query)
    assert seen(pages) == seen([expected])
    assert all(body["totalResults"] == expected["totalResults"] for body in pages)
    backward = [pages[-1]]
    while "previousCursor" in backward[-1]:
        backward.append(page(directory, cursor=backward[-1]["previousCursor"], count=4, **query))
    assert [seen([body]) for body in backward] == [seen([body]) for body in reversed(pages)]


def test_groups_and_search_endpoints_page_by_cursor(scim):
    users = [scim.create_user(f"u{i}@example.com")["id"] for i in range(4)]
    groups = [scim.create_group(f"G{i}", users[:i])["id"] for i in range(3)]
    assert seen(walk(scim, "/Groups", count=2)) == groups
    assert seen(walk(scim, "/Groups", count=2, excludedAttributes="members")) == groups

    def search(path, **body):
        response = scim.post(path, {"schemas": [SEARCH], **body})
        assert response.status_code == 200, response.content
        return response.json()

    first = search("/Users/.search", cursor="", count=3, sortBy="userName")
    second = search("/Users/.search", cursor=first["nextCursor"], count=3, sortBy="userName")
    assert seen([first, second]) == users and "nextCursor" not in second
    pages = [search("/.search", cursor="", count=3, attributes=["id"])]
    while "nextCursor" in pages[-1]:
        pages.append(search("/.search", cursor=pages[-1]["nextCursor"], count=3))
    assert seen(pages) == users + groups
    assert [body["totalResults"] for body in pages] == [7, 7, 7]
    resource_types = [r["meta"]["resourceType"] for r in pages[1]["Resources"]]
    assert resource_types == ["User", "Group", "Group"]
    filtered = search("/.search", cursor="", count=3, filter='displayName sw "G"')
    assert seen([filtered]) == groups and filtered["totalResults"] == 3


def test_attributes_may_change_between_pages(scim):
    bulk_users(scim.connection, 5)
    first = page(scim, cursor="", count=2, attributes="userName")
    assert set(first["Resources"][0]) == {"schemas", "id", "userName"}
    second = page(scim, cursor=first["nextCursor"], count=2, excludedAttributes="emails")
    assert seen([first, second]) == ids_in_order(scim.connection)[:4]


def test_count_zero_and_negative_give_only_the_total(scim):
    bulk_users(scim.connection, 3)
    for count in (0, -5):
        body = page(scim, cursor="", count=count)
        assert body["totalResults"] == 3 and body["Resources"] == []
        assert "nextCursor" not in body and "previousCursor" not in body


def test_a_cursor_is_bound_to_its_query(scim):
    bulk_users(scim.connection, 5)
    query = {"filter": 'userName sw "walk"', "sortBy": "userName", "count": 2}
    cursor = page(scim, cursor="", **query)["nextCursor"]
    assert page(scim, cursor=cursor, **query)["Resources"]
    for changed in (
        {"filter": 'userName sw "w"'},
        {"filter": None},
        {"sortBy": "externalId"},
        {"sortOrder": "descending"},
    ):
        params = {key: value for key, value in {**query, **changed}.items() if value is not None}
        scim_error(scim.get("/Users", cursor=cursor, **params), "invalidCursor")
    plain = page(scim, cursor="", count=2)["nextCursor"]  # a query Groups could answer
    scim_error(scim.get("/Groups", cursor=plain, count=2), "invalidCursor")
    # the count of the first page, for every page
    body = scim_error(scim.get("/Users", cursor=cursor, **{**query, "count": 3}), "invalidCount")
    assert "2" in body["detail"]


def test_a_changed_cursor_is_invalid(scim):
    bulk_users(scim.connection, 3)
    cursor = page(scim, cursor="", count=1)["nextCursor"]
    for position in (0, len(cursor) // 2, len(cursor) - 1):
        character = "A" if cursor[position] != "A" else "B"
        tampered = cursor[:position] + character + cursor[position + 1 :]
        scim_error(scim.get("/Users", cursor=tampered, count=1), "invalidCursor")
    for garbage in ("x", "not a cursor", "a+b/c=", cursor + "~"):
        scim_error(scim.get("/Users", cursor=garbage, count=1), "invalidCursor")
    bad_type = scim.post("/Users/.search", {"schemas": [SEARCH], "cursor": 7})
    scim_error(bad_type, "invalidCursor")


def test_a_cursor_of_another_connection_shows_nothing(scim, other_scim):
    bulk_users(scim.connection, 3, prefix="mine")
    bulk_users(other_scim.connection, 3, prefix="theirs")
    cursor = page(scim, cursor="", count=1)["nextCursor"]
    replayed = other_scim.get("/Users", cursor=cursor, count=1)
    scim_error(replayed, "invalidCursor")
    assert b"mine" not in replayed.content and b"theirs" not in replayed.content


def test_an_old_cursor_has_expired(scim, settings, monkeypatch):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "CURSOR_TIMEOUT": 60}
    bulk_users(scim.connection, 3)
    cursor = page(scim, cursor="", count=1)["nextCursor"]
    now = time.time()
    monkeypatch.setattr("scim_portal.scim.cursors.time.time", lambda: now + 59)
    assert page(scim, cursor=cursor, count=1)["Resources"]
    monkeypatch.setattr("scim_portal.scim.cursors.time.time", lambda: now + 61)
    scim_error(scim.get("/Users", cursor=cursor, count=1), "expiredCursor")


def test_count_above_the_maximum_is_invalid_for_cursors_only(scim, settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "MAX_PAGE_SIZE": 5}
    bulk_users(scim.connection, 7)
    scim_error(scim.get("/Users", cursor="", count=6), "invalidCount")
    search = {"schemas": [SEARCH], "cursor": "", "count": 6}
    scim_error(scim.post("/Users/.search", search), "invalidCount")
    assert len(page(scim, count=6)["Resources"]) == 5  # index paging caps it (checklist 8)
    assert len(page(scim, cursor="", count=5)["Resources"]) == 5


def test_cursor_and_start_index_together_are_refused(scim):
    body = scim_error(scim.get("/Users", cursor="", startIndex=1), "invalidValue")
    assert "startIndex" in body["detail"] and "cursor" in body["detail"]
    search = {"schemas": [SEARCH], "cursor": "", "startIndex": 2}
    scim_error(scim.post("/.search", search), "invalidValue")


def test_service_provider_config_advertises_both_methods(scim):
    pagination = page(scim, "/ServiceProviderConfig")["pagination"]
    assert pagination == {
        "cursor": True,
        "index": True,
        "defaultPaginationMethod": "index",
        "defaultPageSize": 100,
        "maxPageSize": 1000,
        "cursorTimeout": 3600,
    }


def _page_queries(scim, **params):
    with CaptureQueriesContext(db) as queries:
        body = page(scim, **params)
    return body, [query["sql"] for query in queries.captured_queries]


@pytest.mark.parametrize(
    "query", [{}, {"filter": 'userName sw "walk"', "sortBy": "userName", "sortOrder": "descending"}]
)
def test_a_deep_page_costs_what_the_first_costs(scim, query):
    bulk_users(scim.connection, 1050)
    page(scim, count=1)  # the token's first use stamps it once
    first, first_queries = _page_queries(scim, cursor="", count=10, **query)
    body = first
    for _ in range(60):  # page 61 of 105
        body = page(scim, cursor=body["nextCursor"], count=10, **query)
    deep, deep_queries = _page_queries(scim, cursor=body["nextCursor"], count=10, **query)
    assert len(deep["Resources"]) == 10 and deep["Resources"] != first["Resources"]
    # auth, the page, memberships, the total, the request log
    assert len(deep_queries) == len(first_queries) == 5
    page_sql = deep_queries[1]
    assert "OFFSET" not in page_sql.upper()
    assert (" < " if query else " > ") in page_sql  # from the cursor's row on


def test_a_cursor_shows_nothing_of_the_row_it_continues_from(scim):
    bulk_users(scim.connection, 3, prefix="secret-name")
    cursor = page(scim, cursor="", count=1, sortBy="userName")["nextCursor"]
    padded = cursor + "=" * (-len(cursor) % 4)
    decoded = base64.urlsafe_b64decode(padded)
    user = DirectoryUser.objects.filter(connection=scim.connection).order_by("user_name").first()
    for clear in (b"secret-name", str(user.pk).encode(), user.pk.bytes, b'"k"'):
        assert clear not in decoded and clear not in cursor.encode()


def test_cursors_survive_a_secret_key_rotation(scim, settings):
    bulk_users(scim.connection, 3)
    cursor = page(scim, cursor="", count=1)["nextCursor"]
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40
    assert page(scim, cursor=cursor, count=1)["Resources"]
    settings.SECRET_KEY_FALLBACKS = []
    scim_error(scim.get("/Users", cursor=cursor, count=1), "invalidCursor")


def same_bytes_spellings(cursor):
    """Other spellings of ``cursor`` that base64 decodes to the same bytes: characters
    the decoder skips, or other unused low bits in the last character."""

    def decoded(value):
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))

    alphabet = string.ascii_letters + string.digits + "-_"
    last = [
        cursor[:-1] + character
        for character in alphabet
        if character != cursor[-1] and decoded(cursor[:-1] + character) == decoded(cursor)
    ]
    middle = len(cursor) // 2
    return ["...." + cursor, cursor[:middle] + "~~~~" + cursor[middle:], *last]


def test_a_cursor_spelled_otherwise_is_invalid(scim):
    bulk_users(scim.connection, 3)
    queries = [{}, {"sortBy": "userName"}, {"filter": 'userName sw "w"'}, {"sortBy": "id"}]
    tried = 0
    for query in queries:  # cursors of several lengths: some have unused bits at the end
        cursor = page(scim, cursor="", count=1, **query)["nextCursor"]
        spellings = same_bytes_spellings(cursor)
        tried += len(spellings) - 2
        for spelling in spellings:
            scim_error(scim.get("/Users", cursor=spelling, count=1, **query), "invalidCursor")
    assert tried  # a last character with unused bits was among them


def sealed(scim, contents, sort_by=""):
    """A cursor of ``/Users`` (unfiltered, ascending) holding ``contents``, sealed with
    the connection's own key: what only a holder of ``SECRET_KEY`` could make."""
    query = ["", sort_by.lower(), False]
    fernet = cursors.Cursors(scim.connection, "Users", query, cursors.Walk([])).fernet
    raw = contents if isinstance(contents, bytes) else json.dumps(contents).encode()
    return fernet.encrypt(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param(b"[" * 100_000, id="deeply nested"),
        pytest.param({"i": 7}, id="id a number"),
        pytest.param({"i": None}, id="id null"),
        pytest.param({"n": float("inf")}, id="count infinite"),
        pytest.param({"n": "1"}, id="count a string"),
        pytest.param({"t": 10**400}, id="time past any float"),
        pytest.param({"t": int(time.time()) + 3600}, id="time an hour ahead"),
        pytest.param({"t": 1.5}, id="time a float"),
        pytest.param({"p": "0"}, id="part a string"),
        pytest.param({"p": True}, id="part a boolean"),
        pytest.param({"k": {"a": 1}}, id="key an object"),
        pytest.param({"k": ["a"]}, id="key an array"),
        pytest.param({"k": "walk\x00"}, id="key with NUL"),
    ],
)
def test_a_sealed_cursor_of_any_shape_is_invalid_not_an_error(scim, changes):
    users = bulk_users(scim.connection, 3)
    first = sorted(users, key=lambda user: user.user_name)[0]
    good = {"p": 0, "i": str(first.pk), "n": 1, "k": first.user_name, "t": int(time.time())}
    assert page(scim, cursor=sealed(scim, good, "userName"), count=1, sortBy="userName")
    contents = changes if isinstance(changes, bytes) else {**good, **changes}
    cursor = sealed(scim, contents, "userName")
    scim_error(scim.get("/Users", cursor=cursor, count=1, sortBy="userName"), "invalidCursor")
