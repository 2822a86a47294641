"""Concurrent IdP traffic on PostgreSQL, through gunicorn with several worker processes."""

import contextlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection as db

from scim_portal.models import DirectoryUser, GroupMembership
from scim_portal.provisioning import create_connection
from tests.factories import OrganizationFactory
from tests.test_example_project import ROOT, free_port, wait_until_answering

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]
PARALLEL = 16


@contextlib.contextmanager
def gunicorn(*flags: str, workers: int = 4):
    """gunicorn serving the test settings on the test database: ``(base URL, process)``."""
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "PGDATABASE": db.settings_dict["NAME"], "PYTHONPATH": str(ROOT)}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "tests.wsgi:application", "--workers", str(workers),
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", *flags],
        cwd=ROOT, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    wait_until_answering(f"{base}/scim/v2/", process)  # a SCIM 404 once up
    try:
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def server():
    """gunicorn, 4 workers."""
    with gunicorn() as (base, _process):
        yield base


@pytest.fixture
def idp(server):
    connection, issued = create_connection(
        account=OrganizationFactory(), name="Load", provider="okta"
    )
    base = f"{server}/scim/v2/{connection.pk}"

    def send(method, path, body=None, headers=None):
        request = urllib.request.Request(
            base + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {issued.raw}",
                     "Content-Type": "application/scim+json", **(headers or {})},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    send.connection = connection
    return send


def in_parallel(function, items):
    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(function, items))


def test_simultaneous_creates_of_one_user_name_give_one_201(idp):
    results = in_parallel(
        lambda i: idp("POST", "/Users", {"userName": "same@example.com"}), range(PARALLEL)
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * (PARALLEL - 1)
    assert DirectoryUser.objects.filter(connection=idp.connection).count() == 1


def test_simultaneous_member_additions_all_survive(idp):
    members = [
        idp("POST", "/Users", {"userName": f"m{i}@example.com"})[1]["id"] for i in range(PARALLEL)
    ]
    _, group = idp("POST", "/Groups", {"displayName": "Crowd"})

    def op(user_id):
        return {"Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}]}

    results = in_parallel(lambda uid: idp("PATCH", f"/Groups/{group['id']}", op(uid)), members)
    assert {status for status, _ in results} == {204}
    assert GroupMembership.objects.filter(group_id=group["id"]).count() == PARALLEL
    _, fetched = idp("GET", f"/Groups/{group['id']}")
    assert len(fetched["members"]) == PARALLEL


def test_interleaved_add_and_remove_of_one_member_ends_consistent(idp):
    _, user = idp("POST", "/Users", {"userName": "flip@example.com"})
    _, group = idp("POST", "/Groups", {"displayName": "Flip"})
    add = {"Operations": [{"op": "add", "path": "members", "value": [{"value": user["id"]}]}]}
    remove = {"Operations": [{"op": "remove", "path": f'members[value eq "{user["id"]}"]'}]}
    results = in_parallel(
        lambda i: idp("PATCH", f"/Groups/{group['id']}", add if i % 2 else remove),
        range(PARALLEL * 2),
    )
    assert {status for status, _ in results} == {204}
    rows = GroupMembership.objects.filter(group_id=group["id"]).count()
    assert rows in (0, 1)
    _, fetched = idp("GET", f"/Groups/{group['id']}")
    assert len(fetched.get("members", [])) == rows
    _, as_user = idp("GET", f"/Users/{user['id']}")
    assert len(as_user.get("groups", [])) == rows


def test_concurrent_patches_never_lose_a_write(idp):
    _, user = idp("POST", "/Users", {"userName": "busy@example.com"})
    path = f"/Users/{user['id']}"

    def phone(i):
        number = {"value": f"+1 555 01{i:02}", "type": f"t{i}"}
        return {"Operations": [{"op": "add", "path": "phoneNumbers", "value": [number]}]}

    results = in_parallel(lambda i: idp("PATCH", path, phone(i)), range(PARALLEL))
    assert {status for status, _ in results} == {200}
    _, fetched = idp("GET", path)
    assert len(fetched["phoneNumbers"]) == PARALLEL  # every read-modify-write kept


def test_put_and_patch_with_the_same_etag_one_wins_the_rest_get_412(idp):
    _, user = idp("POST", "/Users", {"userName": "etag@example.com"})
    path, version = f"/Users/{user['id']}", user["meta"]["version"]

    def write(i):
        headers = {"If-Match": version}
        if i % 2:
            return idp("PUT", path, {"userName": "etag@example.com", "title": f"put {i}"}, headers)
        body = {"Operations": [{"op": "replace", "path": "title", "value": f"patch {i}"}]}
        return idp("PATCH", path, body, headers)

    statuses = sorted(status for status, _ in in_parallel(write, range(PARALLEL)))
    assert statuses == [200] + [412] * (PARALLEL - 1)
    _, fetched = idp("GET", path)
    assert fetched["meta"]["version"] == 'W/"2"'


def test_every_worker_sees_a_change_made_through_another(idp):
    """Each gunicorn worker remembers a list's size in its own (per-process) cache; a write
    in one worker forgets only its own. The connection's event counter, read with the
    token, must make every other worker see the change at once."""

    def create(i):
        return idp("POST", "/Users", {"userName": f"u{i:03}@example.com"})

    def totals(start=1, count=5):
        def read(_):
            status, body = idp("GET", f"/Users?startIndex={start}&count={count}")
            assert status == 200
            return body["totalResults"], tuple(resource["id"] for resource in body["Resources"])

        return in_parallel(read, range(PARALLEL * 2))

    def truth():
        rows = DirectoryUser.objects.filter(connection=idp.connection).order_by("id")
        return tuple(str(pk) for pk in rows.values_list("pk", flat=True))

    assert all(status == 201 for status, _ in in_parallel(create, range(40)))
    assert {total for total, _ in totals()} == {40}  # full pages: every worker remembers 40
    assert create(40)[0] == 201  # one worker
    assert {total for total, _ in totals()} == {41}
    assert idp("DELETE", f"/Users/{truth()[0]}")[0] == 204
    assert set(totals()) == {(40, truth()[:5])}
    # Creates, deletes and full-page reads interleaved over all workers end consistent.
    victims = truth()[5:15]
    work = [item for i in range(30) for item in (("create", 41 + i), ("read", 1 + i))]
    work += [("delete", pk) for pk in victims]

    def act(item):
        kind, value = item
        if kind == "create":
            return create(value)[0] == 201
        if kind == "delete":
            return idp("DELETE", f"/Users/{value}")[0] == 204
        return totals(value)[0][0] >= 0

    assert all(in_parallel(act, work))
    final = truth()
    assert len(final) == 60
    for start in (1, 8, 50, 56):
        assert set(totals(start)) == {(60, final[start - 1 : start + 4])}
