"""Unfiltered lists keep the directory's size under the connection's event sequence
(scim_portal.scim.paging): every page must still be exactly what the database holds."""

import time

import pytest
from django.core.cache import caches
from django.db import transaction

from scim_portal.models import DirectoryUser
from scim_portal.provisioning import directory
from scim_portal.scim import paging
from tests.factories import DirectoryUserFactory

# The size is kept only outside transactions, so these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def bulk_users(connection, count, prefix="bulk"):
    return DirectoryUser.objects.bulk_create(
        DirectoryUser(
            connection=connection,
            user_name=f"{prefix}{i:05}@example.com",
            attributes={"schemas": [USER_SCHEMA], "userName": f"{prefix}{i:05}@example.com"},
        )
        for i in range(count)
    )


def truth(connection, model=DirectoryUser):
    return list(
        model.objects.filter(connection=connection).order_by("id").values_list("id", flat=True)
    )


def listed(scim, endpoint="/Users", **params):
    response = scim.get(endpoint, **params)
    assert response.status_code == 200, response.content
    body = response.json()
    return body["totalResults"], [resource["id"] for resource in body["Resources"]]


def test_a_full_page_of_an_unchanged_directory_is_not_counted_again(
    scim, django_assert_num_queries
):
    for i in range(5):
        scim.create_user(f"u{i}@example.com")
    assert listed(scim, count=2)[0] == 5  # counted once, kept
    with django_assert_num_queries(4) as queries:  # auth, page, groups, request log
        total, ids = listed(scim, startIndex=3, count=2)
    assert not any("COUNT(" in query["sql"] for query in queries.captured_queries)
    assert total == 5
    assert ids == [str(pk) for pk in truth(scim.connection)[2:4]]


def test_a_page_past_the_end_of_a_kept_directory_reads_nothing(scim, django_assert_num_queries):
    for i in range(3):
        scim.create_user(f"u{i}@example.com")
    listed(scim, count=1)
    with django_assert_num_queries(2):  # auth, request log
        assert listed(scim, startIndex=4, count=10) == (3, [])
    with django_assert_num_queries(2):
        assert listed(scim, count=0) == (3, [])


def _scim_create(scim):
    scim.create_user("new@example.com")


def _scim_delete(scim):
    assert scim.delete(f"/Users/{truth(scim.connection)[1]}").status_code == 204


def _bulk_create_and_delete(scim):
    victim = truth(scim.connection)[0]
    operations = [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "b1@example.com"}},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "b2@example.com"}},
        {"method": "DELETE", "path": f"/Users/{victim}"},
    ]
    response = scim.post("/Bulk", {"schemas": [BULK], "Operations": operations})
    assert [item["status"] for item in response.json()["Operations"]] == ["201", "201", "204"]


def _service_delete(scim):
    """As Django admin and the portal delete: through the provisioning API."""
    directory.delete_user(scim.connection, truth(scim.connection)[0])


def _services_in_one_transaction(scim):
    with transaction.atomic():
        for name in ("t1@example.com", "t2@example.com"):
            directory.create_user(scim.connection, {"schemas": [USER_SCHEMA], "userName": name})


def assert_shows_in_the_next_page(scim, change):
    """Six users are listed (and their number kept), ``change`` runs, the next page is
    the truth."""
    for i in range(6):
        scim.create_user(f"u{i}@example.com")
    assert listed(scim, count=2)[0] == 6
    change(scim)
    expected = truth(scim.connection)
    assert listed(scim, count=2) == (len(expected), [str(pk) for pk in expected[:2]])


@pytest.mark.parametrize(
    "change",
    [_scim_create, _scim_delete, _bulk_create_and_delete, _service_delete,
     _services_in_one_transaction],
)  # fmt: skip
def test_every_change_through_provisioning_shows_in_the_next_page(scim, change):
    assert_shows_in_the_next_page(scim, change)


def test_a_write_that_bypasses_provisioning_shows_in_pages_at_once_and_in_the_total_soon(
    scim, monkeypatch
):
    for i in range(6):
        scim.create_user(f"u{i}@example.com")
    assert listed(scim, count=2)[0] == 6
    DirectoryUserFactory(connection=scim.connection)  # no event, no new sequence
    expected = [str(pk) for pk in truth(scim.connection)]
    assert listed(scim, startIndex=6, count=2) == (6, expected[5:7])  # the page is the truth
    later = time.time() + paging.TOTAL_TIMEOUT + 1
    monkeypatch.setattr("django.core.cache.backends.locmem.time.time", lambda: later)
    assert listed(scim, count=2)[0] == 7  # the kept size has expired
    DirectoryUser.objects.filter(pk__in=expected[:2]).delete()
    assert listed(scim, count=2)[0] == 7  # kept again, until...
    scim.create_user("next@example.com")  # ...the next write through provisioning
    assert listed(scim, count=2)[0] == 6


def test_groups_are_kept_apart_from_users(scim):
    scim.create_user("u@example.com")
    scim.create_group("One")
    assert listed(scim, "/Groups", count=1)[0] == 1
    assert listed(scim, count=1)[0] == 1
    scim.create_group("Two")
    assert listed(scim, "/Groups", count=1)[0] == 2
    assert listed(scim, count=1)[0] == 1
    group = scim.get("/Groups", count=1).json()["Resources"][0]["id"]
    assert scim.delete(f"/Groups/{group}").status_code == 204
    assert listed(scim, "/Groups", count=1)[0] == 1


def test_a_connection_s_total_is_its_own(scim, other_scim):
    for i in range(4):
        scim.create_user(f"u{i}@example.com")
    other_scim.create_user("other@example.com")
    assert listed(scim, count=1)[0] == 4
    assert listed(other_scim, count=1) == (1, [str(truth(other_scim.connection)[0])])


def test_a_rolled_back_change_is_never_kept(scim):
    for i in range(4):
        scim.create_user(f"u{i}@example.com")
    with pytest.raises(RuntimeError), transaction.atomic():
        bulk_users(scim.connection, 3)
        assert listed(scim, count=1)[0] == 7  # read inside the transaction: not kept
        raise RuntimeError
    assert listed(scim, count=1)[0] == 4


def test_a_rolled_back_sequence_is_never_kept(scim):
    """A create through provisioning raises the sequence inside a transaction that rolls
    back; the next create commits the same sequence number with another directory."""
    for i in range(4):
        scim.create_user(f"u{i}@example.com")
    assert listed(scim, count=1)[0] == 4
    with pytest.raises(RuntimeError), transaction.atomic():
        _services_in_one_transaction(scim)
        assert listed(scim, count=1)[0] == 6
        raise RuntimeError
    victim = truth(scim.connection)[0]
    assert scim.delete(f"/Users/{victim}").status_code == 204
    assert listed(scim, count=1)[0] == 3


def test_a_deep_page_of_a_directory_read_for_the_first_time_is_a_deferred_join(
    scim, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(paging, "DEFERRED_JOIN_OFFSET", 10)
    bulk_users(scim.connection, 61)
    expected = [str(pk) for pk in truth(scim.connection)]
    listed(scim, filter='userName eq "nobody"')  # the token's last use, written
    # auth, page, count (a full page does not tell the total), groups, request log
    with django_assert_num_queries(5) as queries:
        assert listed(scim, startIndex=50, count=5) == (61, expected[49:54])
    page_sql = queries.captured_queries[1]["sql"]
    assert " IN (SELECT " in page_sql and "COUNT(" not in page_sql


@pytest.fixture
def marked(monkeypatch):
    """Deep pages from offset 10, marks at every 7th position."""
    monkeypatch.setattr(paging, "DEFERRED_JOIN_OFFSET", 10)
    monkeypatch.setattr(paging, "MARK_STEP", 7)


def test_every_deep_page_of_a_kept_directory_is_the_page_the_database_holds(
    scim, marked, django_assert_num_queries
):
    bulk_users(scim.connection, 61)
    expected = [str(pk) for pk in truth(scim.connection)]
    listed(scim, startIndex=31, count=5)  # counts, and keeps the size
    with django_assert_num_queries(5) as queries:  # auth, the marks, page, groups, log
        assert listed(scim, startIndex=50, count=5) == (61, expected[49:54])
    assert "ROW_NUMBER" in queries.captured_queries[1]["sql"].upper()
    with django_assert_num_queries(4) as queries:  # auth, page, groups, request log
        assert listed(scim, startIndex=40, count=5) == (61, expected[39:44])
    page_sql = queries.captured_queries[1]["sql"]
    assert " IN (SELECT " not in page_sql and "COUNT(" not in page_sql
    for start in range(1, 64):
        for count in (1, 6, 21, 25):
            assert listed(scim, startIndex=start, count=count) == (
                61,
                expected[start - 1 : start - 1 + count],
            ), (start, count)


def test_marks_are_kept_as_text(scim, marked):
    """Every deep page reads the marks back from the cache: at 1,000,000 users there are
    1,000 of them, and unpickling them as UUID objects cost ~2.9 ms a page."""
    bulk_users(scim.connection, 40)
    for _ in range(2):  # the size, then the marks, kept
        listed(scim, startIndex=21, count=5)
    key = f"scim_portal:marks:1:directoryuser:{scim.connection.pk}"
    _, (step, marks) = caches[paging.CACHE_ALIAS].get(key)
    expected = [str(pk) for pk in truth(scim.connection)]
    assert step == 7 and marks == expected[::7] and all(type(mark) is str for mark in marks)


@pytest.mark.parametrize("change", ["create", "delete"])
def test_a_deep_page_after_a_change_through_provisioning_is_the_page_the_database_holds(
    scim, marked, change
):
    bulk_users(scim.connection, 40)
    for _ in range(2):  # the size, then the marks, kept
        listed(scim, startIndex=21, count=5)
    if change == "delete":
        victim = truth(scim.connection)[3]
        assert scim.delete(f"/Users/{victim}").status_code == 204
    else:
        scim.create_user("new@example.com")
    expected = [str(pk) for pk in truth(scim.connection)]
    for _ in range(3):  # counted again, then new marks, then read through them
        for start in (11, 19, 21, 33):
            assert listed(scim, startIndex=start, count=5) == (
                len(expected),
                expected[start - 1 : start + 4],
            )


def test_an_unreachable_cache_costs_a_count_not_the_answer(scim, monkeypatch, caplog):
    for i in range(3):
        scim.create_user(f"u{i}@example.com")
    cache = caches[paging.CACHE_ALIAS]

    def unreachable(*args, **kwargs):
        raise ConnectionError("cache down")

    for method in ("get", "set"):
        monkeypatch.setattr(cache, method, unreachable)
    assert listed(scim, count=2)[0] == 3
    scim.create_user("more@example.com")
    assert listed(scim, count=2) == (4, [str(pk) for pk in truth(scim.connection)[:2]])
    assert "list totals off for 30 s" in caplog.text


LATER = 10**9  # a sequence label no request has reached: read as current


@pytest.mark.parametrize(
    ("which", "value"),
    [
        ("total", "junk"),
        ("total", ("junk", 5)),
        ("total", (LATER,)),
        ("total", (LATER, "junk")),
        ("total", (LATER, -5)),
        ("marks", (LATER, "junk")),
        ("marks", (LATER, (7, ["not-a-uuid"] * 9))),
        ("marks", (LATER, (0, []))),
        ("marks", (LATER, (7, None))),
        ("marks", (LATER, (7, [None] * 9))),
    ],
)
def test_a_corrupted_cache_entry_is_read_as_no_entry(scim, marked, which, value):
    """The cache is shared (Redis): whatever it holds under a key, a page is what the
    database holds, never a 500."""
    bulk_users(scim.connection, 40)
    expected = [str(pk) for pk in truth(scim.connection)]
    for _ in range(2):  # the size, then the marks, kept
        listed(scim, startIndex=21, count=5)
    caches[paging.CACHE_ALIAS].set(
        f"scim_portal:{which}:1:directoryuser:{scim.connection.pk}", value
    )
    assert listed(scim, startIndex=30, count=5) == (40, expected[29:34])


def test_another_connection_s_marks_give_none_of_its_rows(scim, other_scim, marked):
    bulk_users(scim.connection, 40)
    bulk_users(other_scim.connection, 40, prefix="other")
    for client in (scim, other_scim):
        for _ in range(2):
            listed(client, startIndex=21, count=5)
    cache = caches[paging.CACHE_ALIAS]
    foreign = cache.get(f"scim_portal:marks:1:directoryuser:{other_scim.connection.pk}")
    cache.set(f"scim_portal:marks:1:directoryuser:{scim.connection.pk}", foreign)
    own = {str(pk) for pk in truth(scim.connection)}
    assert set(listed(scim, startIndex=30, count=5)[1]) <= own
