"""Unfiltered lists remember the directory's size and page positions between changes
(scim_portal.scim.paging): every page must still be exactly what the database holds."""

import pytest
from django.db import transaction

from scim_portal.models import DirectoryGroup, DirectoryUser
from scim_portal.scim import paging
from tests.factories import DirectoryGroupFactory, DirectoryUserFactory

# The positions are used only outside transactions, so these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


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
    assert listed(scim, count=2)[0] == 5  # counted once, remembered
    with django_assert_num_queries(4) as queries:  # auth, page, groups, request log
        total, ids = listed(scim, startIndex=3, count=2)
    assert not any("COUNT(" in query["sql"] for query in queries.captured_queries)
    assert total == 5
    assert ids == [str(pk) for pk in truth(scim.connection)[2:4]]


def test_a_page_past_the_end_of_a_remembered_directory_reads_nothing(
    scim, django_assert_num_queries
):
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


def _orm_create(scim):
    DirectoryUserFactory(connection=scim.connection)


def _orm_delete(scim):
    DirectoryUser.objects.get(pk=truth(scim.connection)[0]).delete()


def _queryset_delete(scim):
    DirectoryUser.objects.filter(pk__in=truth(scim.connection)[:3]).delete()


def _create_in_a_transaction(scim):
    with transaction.atomic():
        DirectoryUserFactory(connection=scim.connection)
        DirectoryUserFactory(connection=scim.connection)


def _bulk_create_then_forget(scim):
    bulk_users(scim.connection, 2, prefix="late")
    paging.forget_positions(scim.connection)


def assert_shows_in_the_next_page(scim, change):
    """Six users are listed (and remembered), ``change`` runs, the next page is the truth."""
    for i in range(6):
        scim.create_user(f"u{i}@example.com")
    assert listed(scim, count=2)[0] == 6
    change(scim)
    expected = truth(scim.connection)
    assert listed(scim, count=2) == (len(expected), [str(pk) for pk in expected[:2]])


@pytest.mark.parametrize(
    "change",
    [_scim_create, _scim_delete, _orm_create, _orm_delete, _queryset_delete,
     _create_in_a_transaction, _bulk_create_then_forget],
)  # fmt: skip
def test_every_change_to_the_directory_shows_in_the_next_page(scim, change):
    assert_shows_in_the_next_page(scim, change)


@pytest.fixture
def without_signals():
    """As if a forget were lost (a reader storing what it read just before a commit)."""
    for signal, model, uid in paging.RECEIVERS:
        assert signal.disconnect(sender=model, dispatch_uid=uid)
    yield
    paging.listen()


@pytest.mark.parametrize("change", [_scim_create, _scim_delete])
def test_changes_through_the_provisioning_api_need_no_signal(scim, without_signals, change):
    assert_shows_in_the_next_page(scim, change)


def test_groups_are_remembered_apart_from_users(scim):
    scim.create_user("u@example.com")
    scim.create_group("One")
    assert listed(scim, "/Groups", count=1)[0] == 1
    assert listed(scim, count=1)[0] == 1
    DirectoryGroupFactory(connection=scim.connection)
    assert listed(scim, "/Groups", count=1)[0] == 2
    assert listed(scim, count=1)[0] == 1


def test_a_connection_s_positions_are_its_own(scim, other_scim):
    for i in range(4):
        scim.create_user(f"u{i}@example.com")
    other_scim.create_user("other@example.com")
    assert listed(scim, count=1)[0] == 4
    assert listed(other_scim, count=1) == (1, [str(truth(other_scim.connection)[0])])


def test_a_rolled_back_change_is_never_remembered(scim):
    for i in range(4):
        scim.create_user(f"u{i}@example.com")
    with pytest.raises(RuntimeError), transaction.atomic():
        bulk_users(scim.connection, 3)
        assert listed(scim, count=1)[0] == 7  # read inside the transaction: not remembered
        raise RuntimeError
    assert listed(scim, count=1)[0] == 4


def test_every_page_from_marks_is_the_page_the_database_holds(
    scim, monkeypatch, django_assert_num_queries
):
    # Small numbers for a small directory: marks every 7th row, at most 4 marks (so the
    # step grows to 21 for 61 users), deep pages from offset 10.
    monkeypatch.setattr(paging, "DEFERRED_JOIN_OFFSET", 10)
    monkeypatch.setattr(paging, "MARK_STEP", 7)
    monkeypatch.setattr(paging, "MAX_MARKS", 4)
    bulk_users(scim.connection, 61)
    expected = [str(pk) for pk in truth(scim.connection)]
    listed(scim, startIndex=31, count=5)
    listed(scim, startIndex=41, count=5)  # the second deep read takes the marks
    with django_assert_num_queries(4) as queries:  # auth, page, groups, request log
        assert listed(scim, startIndex=50, count=5) == (61, expected[49:54])
    page_sql = queries.captured_queries[1]["sql"]
    assert " IN (SELECT " not in page_sql and "COUNT(" not in page_sql
    for start in range(1, 64):
        for count in (1, 6, 21, 25):
            assert listed(scim, startIndex=start, count=count) == (
                61,
                expected[start - 1 : start - 1 + count],
            ), (start, count)


def test_marks_are_forgotten_with_the_directory_state_they_describe(scim, monkeypatch):
    monkeypatch.setattr(paging, "DEFERRED_JOIN_OFFSET", 10)
    monkeypatch.setattr(paging, "MARK_STEP", 5)
    bulk_users(scim.connection, 40)
    for _ in range(2):
        listed(scim, startIndex=21, count=5)
    victim = truth(scim.connection)[3]
    assert scim.delete(f"/Users/{victim}").status_code == 204
    expected = [str(pk) for pk in truth(scim.connection)]
    assert listed(scim, startIndex=21, count=5) == (39, expected[20:25])


@pytest.mark.django_db  # in the test's transaction, where callbacks wait for the commit
def test_one_forget_per_transaction_for_a_run_of_deletes(scim, django_capture_on_commit_callbacks):
    bulk_users(scim.connection, 30)
    group = DirectoryGroupFactory(connection=scim.connection)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        DirectoryUser.objects.filter(connection=scim.connection).delete()
        DirectoryGroup.objects.filter(pk=group.pk).delete()
    assert len(callbacks) == 2  # users, then groups


def test_an_unreachable_cache_costs_a_count_not_the_answer(scim, monkeypatch, caplog):
    from django.core.cache import caches

    for i in range(3):
        scim.create_user(f"u{i}@example.com")
    cache = caches[paging.CACHE_ALIAS]

    def unreachable(*args, **kwargs):
        raise ConnectionError("cache down")

    for method in ("get", "set", "delete"):
        monkeypatch.setattr(cache, method, unreachable)
    assert listed(scim, count=2)[0] == 3
    scim.create_user("more@example.com")  # the forget after its commit fails quietly
    assert listed(scim, count=2) == (4, [str(pk) for pk in truth(scim.connection)[:2]])
    assert "list positions off for 30 s" in caplog.text
    assert "Could not forget list positions" in caplog.text
