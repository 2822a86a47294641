"""Query budgets: constant whatever the page or group size."""

import pytest
from django.db import connection as db

from scim_portal.models import (
    AccessToken,
    Connection,
    Credential,
    CredentialKind,
    DirectoryUser,
    GroupMembership,
)
from scim_portal.provisioning import issue_credential
from tests.factories import DirectoryUserFactory
from tests.scim_client import basic_auth as basic_header
from tests.testapp.models import OrganizationMembership

pytestmark = pytest.mark.django_db

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
#: A change's event: the counter's bump and the insert, one statement on PostgreSQL
#: (ProvisioningEvent.objects.create_numbered), two elsewhere.
EVENT = 1 if db.vendor == "postgresql" else 2


def make_users(scim, count, group=None):
    users = [
        DirectoryUserFactory(
            connection=scim.connection,
            user_name=f"bulk{i}@example.com",
            attributes={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"bulk{i}@example.com",
                "emails": [{"value": f"bulk{i}@example.com", "type": "work"}],
            },
        )
        for i in range(count)
    ]
    if group is not None:
        GroupMembership.objects.bulk_create(
            [GroupMembership(group_id=group["id"], user=user) for user in users]
        )
    return users


@pytest.mark.parametrize("count", [10, 100])
def test_a_page_of_users_with_emails_and_groups_costs_the_same_queries(
    scim, count, django_assert_num_queries
):
    group = scim.create_group("Everyone")
    make_users(scim, count + 5, group)
    # auth, page, groups of the page, count (a full page), request log
    with django_assert_num_queries(5):
        body = scim.get("/Users", count=count).json()
    assert len(body["Resources"]) == count and body["totalResults"] == count + 5
    assert all(r["groups"][0]["display"] == "Everyone" and r["emails"] for r in body["Resources"])
    # The last page tells the total itself: no count.
    with django_assert_num_queries(4):
        body = scim.get("/Users", count=count, startIndex=count + 1).json()
    assert len(body["Resources"]) == 5 and body["totalResults"] == count + 5
    assert all(r["groups"][0]["display"] == "Everyone" for r in body["Resources"])


def test_a_user_lookup_needs_no_count(scim, django_assert_num_queries):
    user = scim.create_user("ada@example.com")
    scim.create_group("Eng", [user["id"]])
    with django_assert_num_queries(3) as queries:  # auth, the user with its groups, log
        body = scim.get("/Users", filter='userName eq "ADA@example.com"').json()
    # Through the unique index of the folded names.
    assert '"user_name_key" = ' in queries.captured_queries[1]["sql"]
    assert body["totalResults"] == 1
    assert [g["display"] for g in body["Resources"][0]["groups"]] == ["Eng"]
    with django_assert_num_queries(3):  # a miss: auth, the empty page, request log
        assert (
            scim.get("/Users", filter='userName eq "bob@example.com"').json()["totalResults"] == 0
        )


@pytest.mark.parametrize("size", [10, 2000])
def test_one_member_patch_costs_the_same_on_small_and_large_groups(
    scim, size, django_assert_num_queries
):
    group = scim.create_group("Big")
    make_users(scim, size, group)
    newcomer = scim.create_user("newcomer@example.com")["id"]
    path = f"/Groups/{group['id']}"
    add = {"op": "add", "path": "members", "value": [{"value": newcomer}]}
    remove = {"op": "remove", "path": f'members[value eq "{newcomer}"]'}
    # auth, savepoint, lock group, check member, already present?, insert, update group,
    # group mapped to a role?, the event (bump the locked counter, insert), release, log
    with django_assert_num_queries(10 + EVENT):
        assert scim.patch_ops(path, add).status_code == 204
    # the same, with "which are members?" and "delete" in place of the two before the
    # update, and "is the removal of one of them held by the brake?"
    with django_assert_num_queries(11 + EVENT):
        assert scim.patch_ops(path, remove).status_code == 204
    assert GroupMembership.objects.filter(group_id=group["id"]).count() == size


def test_get_user_by_id_query_budget(scim, django_assert_num_queries):
    user = scim.create_user("one@example.com")
    scim.create_group("Eng", [user["id"]])
    scim.create_group("Admins", [user["id"]])
    with django_assert_num_queries(3):  # auth, the user with its groups, request log
        body = scim.get(f"/Users/{user['id']}").json()
    assert sorted(g["display"] for g in body["groups"]) == ["Admins", "Eng"]
    lonely = scim.create_user("two@example.com")
    with django_assert_num_queries(3):  # a user in no group is found all the same
        body = scim.get(f"/Users/{lonely['id']}").json()
    assert body["userName"] == "two@example.com" and "groups" not in body


def test_get_user_by_id_costs_the_same_queries_with_every_credential(
    scim, django_assert_num_queries
):
    """An access token from the token endpoint, or Basic, is one lookup as a bearer token
    is (the access token joined to its credential and connection in one statement)."""
    connection = scim.connection
    secret = issue_credential(connection, CredentialKind.CLIENT_SECRET)
    connection.refresh_from_db()
    token = scim.client.post(
        "/scim/oauth/token",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_header(connection.oauth_client_id, secret.raw),
        secure=True,
    )
    assert token.status_code == 200, token.content
    password = issue_credential(connection, CredentialKind.BASIC)
    authorizations = {
        "bearer": f"Bearer {scim.token}",
        "access token": f"Bearer {token.json()['access_token']}",
        "basic": basic_header(password.credential.username, password.raw),
    }
    user = scim.create_user("one@example.com")
    scim.create_group("Eng", [user["id"]])
    url = f"{scim.base}/Users/{user['id']}"
    for name, authorization in authorizations.items():
        scim.client.get(url, HTTP_AUTHORIZATION=authorization)  # last use, written once
        with django_assert_num_queries(3) as queries:  # auth, the user with its groups, log
            response = scim.client.get(url, HTTP_AUTHORIZATION=authorization)
        assert response.status_code == 200, (name, response.content)
        assert response.json()["id"] == user["id"]
        assert [g["display"] for g in response.json()["groups"]] == ["Eng"]
        sql = queries.captured_queries[0]["sql"]
        tables = [Credential._meta.db_table, Connection._meta.db_table]
        if name == "access token":
            tables.append(AccessToken._meta.db_table)
        assert all(table in sql for table in tables), (name, sql)


def test_get_group_by_id_query_budget(scim, django_assert_num_queries):
    user = scim.create_user("one@example.com")
    group = scim.create_group("Eng", [user["id"]])
    with django_assert_num_queries(4):  # auth, group, members, request log
        body = scim.get(f"/Groups/{group['id']}").json()
    assert [m["value"] for m in body["members"]] == [user["id"]]


def test_a_deep_page_is_a_deferred_join_with_the_same_budget(scim, django_assert_num_queries):
    from scim_portal.scim.paging import DEFERRED_JOIN_OFFSET

    group = scim.create_group("Everyone")
    users = DirectoryUser.objects.bulk_create(
        DirectoryUser(
            connection=scim.connection,
            user_name=f"deep{i:05}@example.com",
            attributes={"schemas": [USER_SCHEMA], "userName": f"deep{i:05}@example.com"},
        )
        for i in range(DEFERRED_JOIN_OFFSET + 150)
    )
    GroupMembership.objects.bulk_create(
        GroupMembership(group_id=group["id"], user=user) for user in users[-150:]
    )
    start = DEFERRED_JOIN_OFFSET + 51
    with django_assert_num_queries(5) as queries:  # auth, page, groups, count, request log
        body = scim.get("/Users", startIndex=start, count=100).json()
    assert " IN (SELECT " in queries.captured_queries[1]["sql"]
    assert body["totalResults"] == len(users)
    ordered = sorted(users, key=lambda user: user.id)[start - 1 : start + 99]
    assert [r["userName"] for r in body["Resources"]] == [u.user_name for u in ordered]
    assert all(r["groups"][0]["display"] == "Everyone" for r in body["Resources"])


def test_create_user_query_budget(scim, django_assert_num_queries):
    """A create that provisions a host user under the ownership rules (docs/security.md):
    the token and its first-use stamps (3), the transaction (savepoint, release), the
    email domain's verified owner asked once for policy, link and profile (1), the
    directory row and its values (2), who holds the email (1), the new host user with a
    free username (2), made before the directory row so the row is written once with its
    link, the account and the test host's membership as one upsert (2), the event number
    and event (:data:`EVENT`), the request log (1)."""
    body = {"userName": "budget@example.com", "emails": [{"value": "budget@example.com"}]}
    with django_assert_num_queries(14 + EVENT) as queries:
        assert scim.post("/Users", body).status_code == 201
    # The change's own transaction (a savepoint inside the test's) and no savepoint per row.
    assert sum("SAVEPOINT" in q["sql"] for q in queries.captured_queries) == 2
    host = DirectoryUser.objects.get(user_name="budget@example.com").host_user
    membership = OrganizationMembership.objects.get(user=host)
    assert membership.organization_id == scim.connection.account_id and membership.is_active


def _provisioned(scim):
    body = {
        "schemas": [USER_SCHEMA],
        "userName": "lean@example.com",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "lean@example.com", "type": "work", "primary": True}],
        "active": True,
    }
    user = scim.create_user(
        "lean@example.com", **{k: v for k, v in body.items() if k != "userName"}
    )
    scim.get(f"/Users/{user['id']}")  # the token's first-use stamps out of the way
    return body, user


def test_put_user_query_budget(scim, django_assert_num_queries):
    """auth, savepoint, the user locked with its host user (one statement), the row,
    the host user's names (its email already theirs: nobody asked who else holds it),
    the event number and event, release, the groups of the answer, the request log."""
    body, user = _provisioned(scim)
    renamed = {**body, "name": {"givenName": "Augusta", "familyName": "Lovelace"}}
    with django_assert_num_queries(8 + EVENT):
        response = scim.put(f"/Users/{user['id']}", renamed)
    assert response.status_code == 200, response.content
    host = DirectoryUser.objects.get(pk=user["id"]).host_user
    assert (host.first_name, host.email) == ("Augusta", "lean@example.com")


def test_patch_deactivate_query_budget(scim, django_assert_num_queries):
    """auth, savepoint, the user locked with its host user and the account (one
    statement), the row, the brake (a removal waiting?, the connection locked, removals
    in the last hour, the removal recorded), the membership deactivated, another active
    membership?, the
    host user deactivated, the event number and event, release, the groups of the
    answer, the request log."""
    _body, user = _provisioned(scim)
    off = {"op": "replace", "path": "active", "value": False}
    with django_assert_num_queries(14 + EVENT):
        assert scim.patch_ops(f"/Users/{user['id']}", off).status_code == 200
    host = DirectoryUser.objects.get(pk=user["id"]).host_user
    assert not host.is_active
    assert not OrganizationMembership.objects.get(user=host).is_active


def test_a_work_email_lookup_is_one_statement_through_the_value_index(
    scim, django_assert_num_queries
):
    user = scim.create_user(
        "ada@example.com", emails=[{"value": "Ada@Example.com", "type": "work"}]
    )
    scim.create_group("Eng", [user["id"]])
    lookup = 'emails[type eq "work"].value eq "ADA@example.com"'
    with django_assert_num_queries(3) as queries:  # auth, the user with its groups, log
        body = scim.get("/Users", filter=lookup).json()
    assert '"value_key" = ' in queries.captured_queries[1]["sql"]
    assert body["totalResults"] == 1 and body["Resources"][0]["id"] == user["id"]
    assert [g["display"] for g in body["Resources"][0]["groups"]] == ["Eng"]
    with django_assert_num_queries(3):  # a miss: auth, no holder, request log
        assert scim.get("/Users", filter=lookup.replace("ADA", "bob")).json()["totalResults"] == 0
