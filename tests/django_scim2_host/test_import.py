"""``scim_portal import-django-scim2`` in a django-scim2 host (the benchmark's peer), then
Okta's next sync against the new connection: the ids Okta stored, its userName and
displayName lookups all find the imported rows; nothing is created twice.

Run by tests/test_import_django_scim2.py in a process of its own (this host's user model
is the peer's)."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from peer.models import Token, User

from scim_portal.models import Connection, DirectoryGroup, DirectoryUser, HostLink, LinkPolicy
from tests.django_scim2_host.models import Team, TeamMembership
from tests.scim_client import ScimClient, load_fixture

SCIM = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OKTA = {"User-Agent": "Okta SCIM Client 1.0.0"}

PEOPLE = [
    # userName, externalId, given, family, active
    ("grace@example.com", "00u1grace", "Grace", "Hopper", True),
    ("alan@example.com", "00u2alan", "Alan", "Turing", True),
    ("ada@example.com", "00u3ada", "Ada", "Lovelace", True),
    ("edsger@example.com", None, "Edsger", "Dijkstra", False),
]


class DjangoScim2:
    """Okta as it provisioned the peer through django-scim2's own endpoints."""

    def __init__(self, client, token):
        self.client, self.auth = client, {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def send(self, method, path, body):
        response = getattr(self.client, method)(
            f"/scim/v2/{path}", data=json.dumps(body), content_type=SCIM, **self.auth
        )
        assert response.status_code in {200, 201, 204}, response.content
        return response.json() if response.content else None

    def user(self, user_name, external_id, given, family, active):
        body = {
            "schemas": [USER],
            "userName": user_name,
            "name": {"givenName": given, "familyName": family},
            "emails": [{"value": user_name, "primary": True, "type": "work"}],
            "active": active,
        }
        if external_id:
            body["externalId"] = external_id
        return self.send("post", "Users", body)

    def group(self, name, member_ids):
        group = self.send("post", "Groups", {"schemas": [GROUP], "displayName": name})
        if member_ids:
            members = [{"value": member} for member in member_ids]
            operation = {"op": "add", "path": "members", "value": members}
            self.send(
                "patch", f"Groups/{group['id']}", {"schemas": [PATCH], "Operations": [operation]}
            )
        return group


@pytest.fixture
def peer(client, db):
    """The peer's directory as Okta left it, and the account it belongs to."""
    service = User.objects.create(username="okta-service", is_staff=True)
    Token.objects.create(digest=Token.digest_of("okta-raw-token"), user=service)
    User.objects.create_superuser("root", "root@example.org", "x")
    okta = DjangoScim2(client, "okta-raw-token")
    served = {person[0]: okta.user(*person) for person in PEOPLE}
    # Pushed with its userName alone: django-scim2 serves "" for each attribute it lacks.
    okta.send("post", "Users", {"schemas": [USER], "userName": "barbara", "active": True})
    # Django's usernames are case-sensitive, SCIM's userName is not: this one cannot come.
    clash = okta.user("ADA@example.com", "00u9clash", "Ada", "Impostor", True)
    engineering = okta.group(
        "Engineering",
        [served["grace@example.com"]["id"], served["ada@example.com"]["id"], clash["id"]],
    )
    staff = okta.group("Staff", [served["alan@example.com"]["id"], str(service.scim_id)])
    okta.group("Empty", [])
    return {
        "team": Team.objects.create(slug="acme", name="Acme"),
        "users": served,
        "groups": {"Engineering": engineering, "Staff": staff},
        "clash": clash,
        "service": service,
    }


def run_import(*args):
    out = StringIO()
    call_command(
        "scim_portal", "import-django-scim2", "--account", "acme", "--name", "Okta",
        "--provider", "okta", "--json", *args, stdout=out, stderr=StringIO(),
    )  # fmt: skip
    return json.loads(out.getvalue())


def okta_client(client, result):
    connection = Connection.objects.get(pk=result["id"])
    scim = ScimClient(client, connection, result["token"])
    for method in ("get", "post", "put", "patch", "delete"):
        call = getattr(scim, method)
        setattr(scim, method, lambda *a, _call=call, **kw: _call(*a, headers=OKTA, **kw))
    return scim


@pytest.mark.parametrize("batch_size", ["500", "1"])
def test_the_import_keeps_ids_external_ids_links_and_memberships(peer, batch_size):
    result = run_import("--batch-size", batch_size)

    assert result["scim_url"] == f"https://saas.example.test/scim/v2/{result['id']}"
    assert result["setup_url"] == result["scim_url"]
    assert result["token"].startswith("scimp_")
    assert (result["users"], result["groups"], result["memberships"], result["linked"]) == (
        5, 3, 3, 5,
    )  # fmt: skip
    assert result["skipped"] == {
        "user: staff or superuser: never imported": 2,
        "user: userName taken (ignoring case)": 1,
        "membership: its user was not imported": 2,
    }
    connection = Connection.objects.get(pk=result["id"])
    assert (connection.account, connection.provider, connection.imported_from) == (
        peer["team"], "okta", "django-scim2",
    )  # fmt: skip
    imported = {
        user.user_name: user for user in DirectoryUser.objects.filter(connection=connection)
    }
    assert set(imported) == {person[0] for person in PEOPLE} | {"barbara"}
    for user_name, external_id, given, family, active in PEOPLE:
        user, host = imported[user_name], User.objects.get(username=user_name)
        # django-scim2 served the primary key as the id: kept as the legacy id.
        assert user.legacy_id == peer["users"][user_name]["id"] == str(host.pk)
        assert user.external_id == external_id
        assert ("externalId" in user.attributes) == bool(external_id)
        assert user.attributes["name"] == {"givenName": given, "familyName": family,
                                           "formatted": f"{given} {family}"}  # fmt: skip
        assert (user.email, user.active) == (user_name, active)
        assert (user.host_user, user.host_link) == (host, HostLink.MANAGED)
        membership = TeamMembership.objects.get(user=host)
        assert (membership.team, membership.is_active) == (peer["team"], active)
    assert not DirectoryUser.objects.filter(user_name__in=["okta-service", "root"]).exists()
    barbara = imported["barbara"]
    assert barbara.attributes == {"schemas": [USER], "userName": "barbara",
                                  "name": {"formatted": "barbara"}, "displayName": "barbara",
                                  "active": True}  # fmt: skip
    assert TeamMembership.objects.count() == 5

    groups = {g.display_name: g for g in DirectoryGroup.objects.filter(connection=connection)}
    assert set(groups) == {"Engineering", "Staff", "Empty"}
    assert groups["Engineering"].legacy_id == peer["groups"]["Engineering"]["id"]
    assert {u.user_name for u in groups["Engineering"].members.all()} == {
        "grace@example.com", "ada@example.com",
    }  # fmt: skip
    assert {u.user_name for u in groups["Staff"].members.all()} == {"alan@example.com"}
    assert not groups["Empty"].members.exists()


def test_okta_next_sync_finds_the_imported_rows_and_creates_nothing(client, peer):
    result = run_import()
    scim = okta_client(client, result)
    users, groups, hosts = (
        DirectoryUser.objects.count(),
        DirectoryGroup.objects.count(),
        User.objects.count(),
    )
    ada = peer["users"]["ada@example.com"]
    grace = peer["users"]["grace@example.com"]

    # A new assignment: Okta looks the person up by userName before creating them.
    found = scim.get("/Users", filter='userName eq "ada@example.com"').json()
    assert found["totalResults"] == 1
    assert found["Resources"][0]["externalId"] == "00u3ada"
    # Okta's create of someone it had pushed before: refused, no second user.
    body = load_fixture("okta/create_user.json")
    body.update(userName="Ada@Example.com", externalId="00u3ada")
    assert scim.post("/Users", body).status_code == 409

    # A profile push, by the id Okta stored when django-scim2 created the person.
    assert scim.get(f"/Users/{ada['id']}").json()["userName"] == "ada@example.com"
    body = load_fixture("okta/put_user.json", user_id=ada["id"])
    body.update(userName="ada@example.com", externalId="00u3ada", emails=[
        {"primary": True, "value": "ada@example.com", "type": "work"}])  # fmt: skip
    body["name"] = {"givenName": "Augusta Ada", "familyName": "King"}
    response = scim.put(f"/Users/{ada['id']}", body)
    assert response.status_code == 200, response.content
    row = DirectoryUser.objects.get(user_name="ada@example.com")
    assert row.attributes["name"] == {"givenName": "Augusta Ada", "familyName": "King"}
    assert response.json()["id"] == str(row.pk)
    host = User.objects.get(username="ada@example.com")
    assert (host.first_name, host.last_name) == ("Augusta Ada", "King")

    # Deactivation by the stored id, and the filters Okta and others send.
    patch = load_fixture("okta/deactivate_user.json")
    assert scim.patch(f"/Users/{grace['id']}", patch).status_code == 200
    grace_host = User.objects.get(username="grace@example.com")
    assert not TeamMembership.objects.get(user=grace_host).is_active
    by_id = scim.get("/Users", filter=f'id eq "{grace["id"]}"').json()
    assert [r["userName"] for r in by_id["Resources"]] == ["grace@example.com"]
    by_external = scim.get("/Users", filter='externalId eq "00u2alan"').json()
    assert [r["userName"] for r in by_external["Resources"]] == ["alan@example.com"]

    # Group push: Okta finds its group by displayName, then pushes members by stored ids.
    engineering = peer["groups"]["Engineering"]
    found = scim.get("/Groups", filter='displayName eq "Engineering"').json()
    assert found["totalResults"] == 1
    push = load_fixture("okta/push_members.json", member_id=peer["users"]["alan@example.com"]["id"])
    push["Operations"][0]["value"].append({"value": grace["id"], "display": "grace@example.com"})
    assert scim.patch(f"/Groups/{engineering['id']}", push).status_code == 204
    group = DirectoryGroup.objects.get(display_name="Engineering")
    assert {u.user_name for u in group.members.all()} == {"alan@example.com", "grace@example.com"}
    members = scim.get("/Groups", filter=f'members[value eq "{ada["id"]}"]').json()
    assert members["totalResults"] == 0
    members = scim.get("/Groups", filter=f'members[value eq "{grace["id"]}"]').json()
    assert [r["displayName"] for r in members["Resources"]] == ["Engineering"]

    rename = load_fixture("okta/rename_group.json", group_id=engineering["id"])
    assert scim.patch(f"/Groups/{engineering['id']}", rename).status_code == 204
    group.refresh_from_db()
    assert group.display_name == "Test SCIMv2 renamed"

    assert (DirectoryUser.objects.count(), DirectoryGroup.objects.count()) == (users, groups)
    assert User.objects.count() == hosts

    # Unassigning deletes the user by its stored id; its host user's membership follows.
    assert scim.delete(f"/Users/{ada['id']}").status_code == 204
    assert scim.get(f"/Users/{ada['id']}").status_code == 404
    assert not TeamMembership.objects.get(user=host).is_active


def test_a_second_import_into_the_account_is_refused(peer):
    first = run_import()

    with pytest.raises(CommandError, match="already imported from django-scim2") as error:
        run_import("--name", "Okta again")
    assert f"--connection {first['id']} --keep-directory" in str(error.value)
    assert Connection.objects.count() == 1
    assert DirectoryUser.objects.count() == 5


def test_a_dry_run_counts_and_writes_nothing(peer):
    result = run_import("--dry-run")

    assert result["dry_run"] is True
    assert (result["users"], result["groups"], result["memberships"]) == (5, 3, 3)
    assert result["token"] is None
    assert not Connection.objects.exists()
    assert not DirectoryUser.objects.exists()
    assert not TeamMembership.objects.exists()
    # And the real import can follow.
    assert run_import()["users"] == 5


def test_a_host_user_another_account_manages_is_imported_unlinked(peer):
    from scim_portal.provisioning import create_connection, directory

    other = Team.objects.create(slug="globex", name="Globex")
    connection, _ = create_connection(account=other, name="Entra", provider="entra")
    connection.link_policy = LinkPolicy.NEVER  # no host user of its own
    theirs = directory.create_user(connection, {"userName": "alan.t@globex.example"})
    alan = User.objects.get(username="alan@example.com")
    DirectoryUser.objects.filter(pk=theirs.pk).update(host_user=alan, host_link=HostLink.MANAGED)

    result = run_import()

    assert result["linked"] == 4
    assert result["skipped"]["link: managed by another account's connection"] == 1
    imported = DirectoryUser.objects.get(user_name="alan@example.com")
    assert (imported.host_user, imported.host_link) == (None, HostLink.BLOCKED)
    assert not TeamMembership.objects.filter(user=alan, team=peer["team"]).exists()


def test_a_directory_scoped_by_the_authenticated_user_is_read_as_that_user(peer, monkeypatch):
    from django_scim.settings import scim_settings

    def scoped(model):
        """One tenant's identity provider per service user, as a multi-tenant host scopes
        django-scim2: the service user sees the people whose userName starts with "a"."""

        def extra_filter_kwargs(request, *args):
            if model is User:
                return {"username__startswith": "a" if request.user.is_authenticated else "-"}
            return {}

        return extra_filter_kwargs

    monkeypatch.setattr(scim_settings, "GET_EXTRA_MODEL_FILTER_KWARGS_GETTER", scoped)

    result = run_import("--request-user", "okta-service")

    assert sorted(DirectoryUser.objects.values_list("user_name", flat=True)) == [
        "ada@example.com", "alan@example.com",
    ]  # fmt: skip
    assert result["users"] == 2
    with pytest.raises(CommandError, match="No user with username 'nobody'"):
        run_import("--request-user", "nobody", "--name", "Other")
