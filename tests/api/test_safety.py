"""The brake in the management API: held removals with their dry run, deciding them,
restoring deleted users, and the deletion dry run — who may, and the numbers."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from scim_portal.models import DeletedUser, EventType, ProvisioningEvent, Removal, RemovalState
from scim_portal.provisioning import directory, safety
from tests.api.test_api import API, as_person, call
from tests.factories import OrganizationFactory
from tests.testapp.models import OrganizationMembership

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def env_key(db):
    from scim_portal.models import EnvironmentKey

    _key, raw = EnvironmentKey.issue("CI automation")
    return raw


@pytest.fixture
def held(setup):
    """Ten more people in acme's connection; the brake (5%, at least 2) holds four
    deactivations after the first, and one deletion."""
    connection = setup["connection"]
    directory.update_connection_settings(connection, brake_percent=5, brake_minimum=2)
    people = [
        directory.create_user(
            connection,
            {"userName": f"p{n}@acme.example", "emails": [{"value": f"p{n}@acme.example"}]},
        )
        for n in range(10)
    ]
    for person in people[:5]:
        directory.update_user(connection, person.pk, lambda u: {**u.attributes, "active": False})
    directory.delete_user(connection, people[9].pk)
    assert safety.held(connection).count() == 5
    return people


def host_rows(account):
    members = OrganizationMembership.objects.filter(organization=account)
    return (
        set(User.objects.filter(is_active=True).values_list("pk", flat=True)),
        {user: active for user, active in members.values_list("user", "is_active")},
    )


def changed(before, after):
    (active_before, members_before), (active_after, members_after) = before, after
    return {
        "memberships_deactivated": sum(
            1
            for user, active in members_before.items()
            if active and members_after.get(user) is False
        ),
        "memberships_removed": len(set(members_before) - set(members_after)),
        "host_users_deactivated": len(active_before - active_after),
    }


def url(setup, tail="", account="acme"):
    return f"{API}/accounts/{account}/connections/{setup['connection'].pk}/{tail}"


def endpoints(setup, held):
    removal = Removal.objects.filter(state=RemovalState.HELD).order_by("pk").first()
    return {
        "held": ("get", url(setup, "held/"), None, "read"),
        "preview": ("get", url(setup, "held/preview/"), {"ids": str(removal.pk)}, "read"),
        "deleted": ("get", url(setup, "deleted/"), None, "read"),
        "deletion-preview": ("get", url(setup, "deletion-preview/"), None, "read"),
        "approve": ("post", url(setup, "held/approve/"), {"ids": [removal.pk]}, "delete"),
        "reject": ("post", url(setup, "held/reject/"), {"ids": [removal.pk]}, "delete"),
        "restore": ("post", url(setup, f"deleted/{held[9].pk}/restore/"), None, "delete"),
    }


@pytest.mark.parametrize("who", ["admin", "auditor", "member", "other_admin", "anonymous", "env"])
@pytest.mark.parametrize(
    "endpoint",
    ["held", "preview", "deleted", "deletion-preview", "approve", "reject", "restore"],
)
def test_permission_matrix(setup, held, env_key, who, endpoint):
    method, address, data, needed = endpoints(setup, held)[endpoint]
    client = Client() if who == "env" else as_person(setup, who)
    response = call(client, method, address, data, key=env_key if who == "env" else None)
    allowed = who in {"admin", "env"} or (who == "auditor" and needed == "read")
    if who == "anonymous":
        assert response.status_code == 401
    elif allowed:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    if not allowed:
        assert safety.held(setup["connection"]).count() == 5
        assert DeletedUser.objects.filter(pk=held[9].pk).exists()


def test_another_accounts_admin_gets_404_through_their_own_account(setup, held):
    client = as_person(setup, "other_admin")
    for name, (method, address, data, _needed) in endpoints(setup, held).items():
        theirs = address.replace("/accounts/acme/", "/accounts/globex/")
        assert call(client, method, theirs, data).status_code == 404, name
    assert safety.held(setup["connection"]).count() == 5


def test_the_list_carries_the_dry_run_and_approval_does_what_it_said(setup, held, env_key):
    body = call(Client(), "get", url(setup, "held/"), key=env_key).json()
    assert [row["user_name"] for row in body["results"]] == [
        "p1@acme.example", "p2@acme.example", "p3@acme.example", "p4@acme.example",
        "p9@acme.example",
    ]  # fmt: skip
    assert body["results"][0]["kind"] == "deactivate" and body["results"][-1]["kind"] == "delete"
    assert body["results"][0]["reason"].startswith("2 people removed within an hour")
    assert body["preview"] == {
        "removals": 5,
        "deactivations": 4,
        "deletions": 1,
        "memberships_deactivated": 5,
        "memberships_removed": 0,
        "host_users_deactivated": 5,
        "unlinked": 0,
    }
    before = host_rows(setup["account"])

    response = call(
        Client(), "post", url(setup, "held/approve/"), {"through": body["through"]}, key=env_key
    )

    assert response.status_code == 200
    assert response.json() == body["preview"]
    effects = changed(before, host_rows(setup["account"]))
    assert effects == {name: body["preview"][name] for name in effects}
    assert Removal.objects.filter(state=RemovalState.APPROVED).count() == 5
    event = ProvisioningEvent.objects.filter(type=EventType.USER_REMOVAL_APPROVED).first()
    assert event.actor["type"] == "environment_key"


def test_a_selection_previews_and_is_decided_alone(setup, held):
    admin = as_person(setup, "admin")
    ids = list(
        Removal.objects.filter(state=RemovalState.HELD).order_by("pk").values_list("pk", flat=True)
    )
    preview = call(admin, "get", url(setup, "held/preview/"), {"ids": f"{ids[0]},{ids[4]}"}).json()
    assert (preview["removals"], preview["deactivations"], preview["deletions"]) == (2, 1, 1)
    before = host_rows(setup["account"])

    approved = call(admin, "post", url(setup, "held/approve/"), {"ids": [ids[0], ids[4]]}).json()

    assert approved == preview
    effects = changed(before, host_rows(setup["account"]))
    assert effects == {name: preview[name] for name in effects}
    before = host_rows(setup["account"])
    rejected = call(admin, "post", url(setup, "held/reject/"), {}).json()
    assert (rejected["removals"], rejected["host_users_deactivated"]) == (3, 0)
    assert host_rows(setup["account"]) == before
    listed = call(admin, "get", url(setup, "held/"), {"state": "rejected"}).json()
    assert len(listed["results"]) == 3 and listed["results"][0]["decided_by"] == "admin"
    assert listed["preview"]["removals"] == 0
    again = call(admin, "post", url(setup, "held/approve/"), {"ids": [ids[1]]}).json()
    assert again["removals"] == 0  # decided already


@pytest.mark.parametrize(
    ("data", "field"),
    [({"ids": ["x"]}, "ids"), ({"ids": list(range(1, 1002))}, "ids"), ({"through": 0}, "through")],
)
def test_bad_decisions_are_400(setup, held, data, field):
    response = call(as_person(setup, "admin"), "post", url(setup, "held/approve/"), data)
    assert response.status_code == 400 and field in response.json()
    assert safety.held(setup["connection"]).count() == 5


def test_restore_answers_the_user_409_when_taken_and_404_when_unknown(setup, held, env_key):
    client, gone = Client(), held[9]
    listed = call(client, "get", url(setup, "deleted/"), key=env_key).json()["results"]
    assert [row["user_name"] for row in listed] == ["p9@acme.example"]
    assert listed[0]["group_count"] == 0 and listed[0]["purge_after"]

    restored = call(client, "post", url(setup, f"deleted/{gone.pk}/restore/"), key=env_key)

    assert restored.status_code == 200
    assert (
        restored.json()["id"] == str(gone.pk) and restored.json()["host_user"] == gone.host_user_id
    )
    assert not Removal.objects.filter(user_id=gone.pk, state=RemovalState.HELD).exists()
    directory.delete_user(setup["connection"], gone.pk)
    directory.create_user(setup["connection"], {"userName": "p9@acme.example"})
    taken = call(client, "post", url(setup, f"deleted/{gone.pk}/restore/"), key=env_key)
    assert taken.status_code == 409
    assert "created p9@acme.example again" in taken.json()["detail"]
    unknown = url(setup, "deleted/00000000-0000-7000-8000-000000000000/restore/")
    assert call(client, "post", unknown, key=env_key).status_code == 404
    assert call(client, "post", url(setup, "deleted/nope/restore/"), key=env_key).status_code == 404


@pytest.mark.parametrize("remove", [True, False])
def test_the_deletion_preview_is_what_deleting_then_changes(setup, held, env_key, remove):
    other = OrganizationFactory()
    OrganizationMembership.objects.create(organization=other, user=held[6].host_user)
    preview = call(Client(), "get", url(setup, "deletion-preview/"), key=env_key).json()
    assert (preview["users"], preview["groups"], preview["deleted_users"]) == (10, 1, 1)
    assert (preview["held_removals"], preview["credentials"]) == (5, 1)
    before = host_rows(setup["account"])

    response = call(
        Client(), "delete", url(setup) + f"?remove_directory={str(remove).lower()}", key=env_key
    )

    assert response.status_code == 204
    expected = preview["remove_directory" if remove else "keep_directory"]
    assert changed(before, host_rows(setup["account"])) == expected
    if remove:  # everyone but p0 (deactivated before) and p6 (active elsewhere)
        assert expected["host_users_deactivated"] == 9


def test_a_host_failure_while_deciding_or_restoring_is_a_json_503(
    setup, held, env_key, monkeypatch
):
    from scim_portal.provisioning.adapter import DefaultProvisioningAdapter

    def unavailable(*args, **kwargs):
        raise RuntimeError("host database unavailable")

    monkeypatch.setattr(DefaultProvisioningAdapter, "user_deactivated", unavailable)
    monkeypatch.setattr(DefaultProvisioningAdapter, "user_restored", unavailable)
    client = Client(raise_request_exception=False)

    approved = call(client, "post", url(setup, "held/approve/"), {}, key=env_key)
    restored = call(client, "post", url(setup, f"deleted/{held[9].pk}/restore/"), key=env_key)

    for response in (approved, restored):
        assert response.status_code == 503, response.content
        assert response["Content-Type"].startswith("application/json")
        assert "could not apply this change" in response.json()["detail"]
        assert "host database" not in response.json()["detail"]
    assert safety.held(setup["connection"]).count() == 5
    assert DeletedUser.objects.filter(pk=held[9].pk).exists()


def test_ids_too_large_for_the_database_are_400(setup, held):
    admin, huge = as_person(setup, "admin"), 10**30
    admin.raise_request_exception = False
    preview = call(admin, "get", url(setup, "held/preview/"), {"ids": str(huge)})
    assert preview.status_code == 400 and "ids" in preview.json()
    for data in ({"ids": [huge]}, {"through": huge}):
        response = call(admin, "post", url(setup, "held/approve/"), data)
        assert response.status_code == 400, response.content
    for through in (huge, "²"):
        answer = call(admin, "get", url(setup, "held/preview/"), {"through": through})
        assert answer.status_code == 400
    assert safety.held(setup["connection"]).count() == 5
