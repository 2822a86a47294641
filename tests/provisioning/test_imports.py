"""Imports from another SCIM service provider (:mod:`scim_portal.provisioning.imports`):
the ids it served keep working in every lookup by id, in this connection only; links
follow the ownership rules; an account is imported once. Without django-scim2: the reading
of a django-scim2 host is tests/test_import_django_scim2.py."""

import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from scim_portal.models import (
    Connection,
    DirectoryGroup,
    DirectoryUser,
    EventType,
    HostLink,
    ProvisioningEvent,
)
from scim_portal.provisioning import create_connection, directory
from scim_portal.provisioning.domains import add_domain, mark_verified
from scim_portal.provisioning.events import SYSTEM
from scim_portal.provisioning.imports import (
    ID_TAKEN,
    AlreadyImported,
    ImportedGroup,
    ImportedUser,
    ImportReport,
    import_groups,
    import_users,
    start_import,
)
from tests.factories import OrganizationFactory, UserFactory
from tests.scim_client import ScimClient
from tests.testapp.models import OrganizationMembership

pytestmark = pytest.mark.django_db

KEPT = "0190f5a4-7b1c-7cc0-8a6e-5f0e9d3c2b1a"


def document(user_name, **more):
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name,
            "emails": [{"value": user_name, "primary": True}], "active": True, **more}  # fmt: skip


def group_document(name):
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name}


@pytest.fixture
def imported(client, organization):
    """A connection holding two users and a group imported with django-scim2's integer
    ids, and one user whose id was a UUID."""
    connection, issued = start_import(
        organization, name="Okta", provider="okta", source="django-scim2"
    )
    hosts = {name: UserFactory(username=name, email=f"{name}@example.com")
             for name in ("ada", "alan", "grace", "root")}  # fmt: skip
    hosts["root"].is_superuser = True
    hosts["root"].save()
    report = ImportReport()
    import_users(
        connection,
        [
            ImportedUser("17", document("ada@example.com", externalId="00u1"), hosts["ada"]),
            ImportedUser("18", document("alan@example.com"), hosts["alan"]),
            ImportedUser(KEPT, document("grace@example.com"), hosts["grace"]),
            ImportedUser("1", document("root@example.com"), hosts["root"]),
        ],
        report,
    )
    import_groups(
        connection, [ImportedGroup("5", group_document("Eng"), ("17", KEPT, "1", "99"))], report
    )
    return {
        "connection": connection,
        "report": report,
        "hosts": hosts,
        "scim": ScimClient(client, connection, issued.raw),
    }


def test_ids_are_kept_and_each_user_linked_to_its_host_user(imported, organization):
    report, hosts = imported["report"], imported["hosts"]

    assert (report.users, report.groups, report.memberships, report.linked) == (3, 1, 2, 3)
    assert (report.legacy_ids, report.kept_ids) == (3, 1)
    assert report.skipped_counts() == {
        "user: staff or superuser: never imported": 1,
        "membership: its user was not imported": 2,
    }
    ada = DirectoryUser.objects.get(legacy_id="17")
    assert (ada.user_name, ada.external_id, ada.host_user, ada.host_link) == (
        "ada@example.com", "00u1", hosts["ada"], HostLink.MANAGED,
    )  # fmt: skip
    grace = DirectoryUser.objects.get(user_name="grace@example.com")
    assert (str(grace.pk), grace.legacy_id) == (KEPT, None)
    assert not DirectoryUser.objects.filter(host_user=hosts["root"]).exists()
    # The account memberships, through the adapter's user_imported.
    assert set(
        OrganizationMembership.objects.filter(organization=organization).values_list(
            "user__username", "is_active"
        )
    ) == {("ada", True), ("alan", True), ("grace", True)}
    types = list(
        ProvisioningEvent.objects.filter(connection=imported["connection"])
        .order_by("number")
        .values_list("type", flat=True)
    )
    assert types.count(EventType.USER_CREATED) == 3
    assert types.count(EventType.USER_LINKED) == 3
    assert types[-2:] == [EventType.GROUP_CREATED, EventType.GROUP_MEMBERS_ADDED]
    created = ProvisioningEvent.objects.filter(type=EventType.USER_CREATED).first()
    assert created.changes["imported_from"] == "django-scim2"


def test_every_lookup_by_id_accepts_the_ids_the_identity_provider_stored(imported):
    scim = imported["scim"]
    ada = DirectoryUser.objects.get(legacy_id="17")

    read = scim.get("/Users/17")
    assert read.status_code == 200
    assert (read.json()["id"], read.json()["userName"]) == (str(ada.pk), "ada@example.com")
    assert scim.get(f"/Users/{KEPT}").json()["userName"] == "grace@example.com"
    assert scim.get("/Groups/5").json()["displayName"] == "Eng"
    assert scim.get("/Users/99").status_code == 404

    put = scim.put("/Users/17", document("ada@example.com", displayName="Ada L."))
    assert put.status_code == 200
    ada.refresh_from_db()
    assert ada.display_name == "Ada L."
    patched = scim.patch_ops("/Users/18", {"op": "replace", "path": "active", "value": False})
    assert patched.status_code == 200
    assert DirectoryUser.objects.get(legacy_id="18").active is False

    # Members named by their stored ids, in PATCH values and in a remove path.
    add = {"op": "add", "path": "members", "value": [{"value": "18"}]}
    assert scim.patch_ops("/Groups/5", add).status_code == 204
    remove = {"op": "remove", "path": 'members[value eq "17"]'}
    assert scim.patch_ops("/Groups/5", remove).status_code == 204
    group = DirectoryGroup.objects.get(legacy_id="5")
    assert {u.user_name for u in group.members.all()} == {"alan@example.com", "grace@example.com"}
    unknown = {"op": "add", "path": "members", "value": [{"value": "1"}]}
    assert scim.patch_ops("/Groups/5", unknown).status_code == 400

    def names(path, expression):
        resources = scim.get(path, filter=expression).json()["Resources"]
        return sorted(r.get("userName") or r["displayName"] for r in resources)

    assert names("/Users", 'id eq "18"') == ["alan@example.com"]
    assert len(names("/Users", 'id ne "18"')) == 2
    assert names("/Groups", 'members[value eq "18"]') == ["Eng"]
    assert names("/Groups", 'id eq "5"') == ["Eng"]
    # null is no id, not the text "None" a legacy id could hold.
    DirectoryUser.objects.filter(legacy_id="18").update(legacy_id="None")
    assert names("/Users", "id eq null") == []
    assert len(names("/Users", "id ne null")) == 3
    DirectoryUser.objects.filter(legacy_id="None").update(legacy_id="18")

    assert scim.delete("/Users/17").status_code == 204
    assert not DirectoryUser.objects.filter(pk=ada.pk).exists()
    assert scim.delete("/Groups/5").status_code == 204


def test_another_connection_cannot_reach_them_by_those_ids(imported, client):
    connection, issued = create_connection(
        account=OrganizationFactory(), name="Other", provider="okta"
    )
    theirs = ScimClient(client, connection, issued.raw)
    directory.create_user(connection, {"userName": "someone@example.com"})

    assert theirs.get("/Users/17").status_code == 404
    assert theirs.delete("/Users/17").status_code == 404
    assert theirs.get("/Users", filter='id eq "17"').json()["totalResults"] == 0
    add = {"op": "add", "path": "members", "value": [{"value": "17"}]}
    group = directory.create_group(connection, {"displayName": "Theirs"})
    assert theirs.patch_ops(f"/Groups/{group.pk}", add).status_code == 400
    assert DirectoryUser.objects.filter(legacy_id="17").exists()


def test_a_person_a_sibling_connection_manages_becomes_a_member(organization):
    sibling, _ = create_connection(account=organization, name="Entra", provider="entra")
    managed = directory.create_user(sibling, {"userName": "ada@example.com"})
    connection, _ = start_import(organization, name="Okta", provider="okta", source="test")
    report = ImportReport()

    import_users(connection, [ImportedUser("3", document("ada@example.com"), managed.host_user)],
                 report)  # fmt: skip

    imported = DirectoryUser.objects.get(connection=connection)
    assert (imported.host_user, imported.host_link) == (managed.host_user, HostLink.MEMBER)
    assert report.linked == 1


def test_a_person_on_a_domain_another_account_verified_is_imported_unlinked(organization):
    """Whatever django-scim2 served (an unscoped directory holds every tenant's people),
    the import never hands this account's connection a person of an account that proved
    their email domain: neither managed (their profile) nor a member of this account."""
    globex = OrganizationFactory()
    mark_verified(add_domain(globex, "globex.example", actor=SYSTEM), actor=SYSTEM)
    theirs = UserFactory(username="gina", email="gina@Globex.Example")
    ours = UserFactory(username="olga", email="olga@example.com")
    connection, _ = start_import(organization, name="Okta", provider="okta", source="test")
    report = ImportReport()

    import_users(connection, [ImportedUser("1", document("gina@globex.example"), theirs),
                              ImportedUser("2", document("olga@example.com"), ours)],
                 report)  # fmt: skip

    gina = DirectoryUser.objects.get(legacy_id="1")
    assert (gina.host_user, gina.host_link) == (None, HostLink.BLOCKED)
    assert DirectoryUser.objects.get(legacy_id="2").host_link == HostLink.MANAGED
    assert report.skipped_counts() == {"link: email on a domain another account verified": 1}
    assert list(OrganizationMembership.objects.filter(organization=organization).values_list(
        "user__username", flat=True)) == ["olga"]  # fmt: skip


def test_an_account_is_imported_once(organization):
    first, _ = start_import(organization, name="Okta", provider="okta", source="django-scim2")

    with pytest.raises(AlreadyImported, match=str(first.pk)):
        start_import(organization, name="Okta 2", provider="okta", source="django-scim2")
    assert Connection.objects.filter(account=organization).count() == 1


def test_a_uuid_id_another_connection_s_resource_has_is_not_imported(organization, client):
    """Every lookup takes a UUID for the primary key, which is another connection's: kept
    as a legacy id, the identity provider's stored id would answer 404. Skipped, said so."""
    other, _ = create_connection(account=OrganizationFactory(), name="Other", provider="okta")
    taken = directory.create_user(other, {"userName": "x@example.com"})
    taken_group = directory.create_group(other, {"displayName": "X"})
    connection, issued = start_import(organization, name="Okta", provider="okta", source="test")
    report = ImportReport()

    import_users(connection, [ImportedUser(str(taken.pk), document("y@example.com")),
                              ImportedUser("7", document("z@example.com"))], report)  # fmt: skip
    import_groups(connection, [ImportedGroup(str(taken_group.pk), group_document("Y"), ("7",)),
                               ImportedGroup("8", group_document("Z"), (str(taken.pk), "7"))],
                  report)  # fmt: skip

    assert report.skipped_counts() == {
        f"user: {ID_TAKEN}": 1,
        f"group: {ID_TAKEN}": 1,
        "membership: its user was not imported": 1,
        "link: no host user": 1,
    }
    assert (report.users, report.groups, report.memberships) == (1, 1, 1)
    assert list(DirectoryUser.objects.filter(connection=connection).values_list(
        "user_name", flat=True)) == ["z@example.com"]  # fmt: skip
    scim = ScimClient(client, connection, issued.raw)
    assert scim.get("/Users/7").status_code == 200
    assert scim.get(f"/Users/{taken.pk}").status_code == 404


def test_the_command_says_django_scim2_is_missing(organization, monkeypatch):
    monkeypatch.setitem(sys.modules, "django_scim", None)  # import django_scim fails

    with pytest.raises(CommandError, match="django-scim2 is not installed"):
        call_command(
            "scim_portal", "import-django-scim2", "--account", organization.handle,
            "--name", "Okta", stdout=StringIO(), stderr=StringIO(),
        )  # fmt: skip
    assert not Connection.objects.exists()


@pytest.mark.parametrize("path", ["/Users/%00", "/Groups/%00", "/Users/a%00b"])
def test_an_id_no_database_can_store_is_404_never_500(imported, path):
    """The URL's id reaches the legacy id's text column: a NUL (which PostgreSQL's text
    cannot hold) must not fail as if the database were down."""
    scim = imported["scim"]
    body = document("x@example.com") if "Users" in path else group_document("x")
    replace = {"op": "replace", "path": "displayName", "value": "x"}
    for response in (
        scim.get(path),
        scim.put(path, body),
        scim.patch_ops(path, replace),
        scim.delete(path),
    ):
        assert response.status_code == 404, response.content


def test_an_id_served_twice_is_imported_once(organization):
    connection, _ = start_import(organization, name="Okta", provider="okta", source="test")
    report = ImportReport()

    import_users(connection, [ImportedUser("7", document("a@example.com")),
                              ImportedUser("7", document("b@example.com")),
                              ImportedUser(KEPT, document("c@example.com")),
                              ImportedUser(KEPT.upper(), document("d@example.com"))],
                 report)  # fmt: skip

    assert report.users == 2
    assert report.skipped_counts()["user: id imported already"] == 2
