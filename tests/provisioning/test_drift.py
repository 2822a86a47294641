"""The drift report and its fixes, on a host with every kind of disagreement."""

import csv
import io

import pytest
from django.contrib.auth.models import User

from scim_portal.models import (
    DirectoryUser,
    EventType,
    HostLink,
    ProvisioningEvent,
    Removal,
    RemovalState,
)
from scim_portal.provisioning import directory, drift, drift_csv, reconcile
from scim_portal.provisioning.events import Actor
from scim_portal.provisioning.exceptions import ResourceNotFound
from tests.drift_seed import COUNTS, EXPECTED
from tests.testapp.models import OrganizationMembership
from tests.testapp.scim import Memberships

pytestmark = pytest.mark.django_db


def names(report, kind):
    return [row.host_username if kind == "unmanaged" else row.user_name
            for row in report.rows(kind)]  # fmt: skip


def everything(connection):
    report = drift.Drift(connection)
    return {kind: sorted(names(report, kind)) for kind in drift.KINDS}


def membership(user):
    return OrganizationMembership.objects.filter(
        organization=user.connection.account, user_id=user.host_user_id
    ).first()


@pytest.fixture
def admin(drift_host):
    return Actor.for_user(drift_host["people"]["admin"], via="portal")


def test_each_disagreement_is_listed_once_under_its_kind(drift_host):
    report = drift.Drift(drift_host["connection"])
    assert report.known
    assert report.counts() == COUNTS
    assert everything(drift_host["connection"]) == EXPECTED


def test_rows_say_what_the_directory_and_the_host_each_have(drift_host):
    report = drift.Drift(drift_host["connection"])
    rows = {row.user_name or row.host_username: row for kind in drift.KINDS
            for row in report.rows(kind)}  # fmt: skip
    lost, gone = rows["lost@acme.test"], rows["gone@acme.test"]
    assert (lost.directory, lost.host) == ("active, role —", "no membership")
    assert (gone.directory, gone.host) == ("deactivated, role —", "active member, role admin")
    assert rows["both@acme.test"].host == "inactive member, role admin"
    assert rows["locked@acme.test"].host == "active member, role admin; user deactivated"
    promoted = rows["promoted@acme.test"]
    assert (promoted.host, promoted.actions) == ("active member, role admin", ("reapply",))
    assert promoted.host_username == promoted.email == "promoted@acme.test"
    held = rows["held@acme.test"]
    assert held.directory == "deactivated" and "waits for review" in held.host
    assert "removed within an hour" in held.reason and held.actions == ()
    assert held.as_held()["id"] == str(drift_host["users"]["held"].pk)
    rejected = rows["rejected@acme.test"]
    assert rejected.actions == ("approve",) and rejected.removal_kind == "deactivate"
    contractor, newhire, root = rows["contractor"], rows["newhire"], rows["root"]
    assert contractor.host == "active member, role viewer"
    assert (contractor.adoptable, contractor.actions) == (False, ("deactivate",))
    assert (newhire.adoptable, newhire.actions) == (True, ("deactivate", "adopt"))
    assert (root.protected, root.actions) == (True, ())


def test_pages_are_keyset_pages_by_key(drift_host):
    report = drift.Drift(drift_host["connection"])
    first = report.page("membership", limit=2)
    second = report.page("membership", first.next_after, limit=2)
    last = report.page("membership", second.next_after, limit=2)
    keys = [row.key for page in (first, second, last) for row in page.rows]
    assert keys == sorted(keys) and len(set(keys)) == COUNTS["membership"]
    assert last.next_after is None
    with pytest.raises(ValueError, match="not a key"):
        report.page("membership", "nope")


def test_counts_and_pages_are_a_fixed_number_of_statements(
    drift_host, django_assert_max_num_queries
):
    connection = drift_host["connection"]
    report = drift.Drift(connection)
    with django_assert_max_num_queries(6):  # one COUNT per kind, the distinct roles
        report.counts()
    for kind in drift.KINDS:
        with django_assert_max_num_queries(3):  # the page, verified domains or host names
            report.page(kind)


def test_the_host_role_is_compared_with_what_the_host_stores(drift_host):
    class Fallback(Memberships):
        def stored_role(self, role):
            return role or "member"

    # Stored as "member", everybody of the directory differs but those whose membership
    # differs already (and the held and rejected).
    report = drift.Drift(drift_host["connection"], memberships=Fallback())
    assert names(report, "role") == sorted(
        ["ada@example.com", "fine@acme.test", "promoted@acme.test", "unset@acme.test"],
        key=lambda name: DirectoryUser.objects.get(user_name=name).pk,
    )
    fine = next(row for row in report.rows("role") if row.user_name == "fine@acme.test")
    assert fine.directory == "active, role member"


def test_without_members_only_what_the_directory_knows(drift_host, settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "MEMBERSHIPS": f"{__name__}.Blind"}
    report = drift.Drift(drift_host["connection"])
    assert not report.known
    assert report.counts() == {**dict.fromkeys(drift.KINDS, 0), "held": 1, "rejected": 1}
    with pytest.raises(reconcile.CannotFix, match="no members"):
        reconcile.reapply(drift_host["connection"], drift_host["users"]["lost"].pk)


class Blind(Memberships):
    def members(self, account):
        return None


def fixed(connection, before, kind, name):
    """``before`` with ``name`` gone from ``kind``: every other row unchanged."""
    after = everything(connection)
    expected = {k: [n for n in v if not (k == kind and n == name)] for k, v in before.items()}
    assert after == expected
    return after


@pytest.mark.parametrize(
    ("name", "kind", "role", "active"),
    [
        ("lost", "membership", "", True),
        ("stale", "membership", "", True),
        ("gone", "membership", "", False),
        ("both", "membership", "", True),
        ("promoted", "role", "", True),
        ("unset", "role", "", True),
    ],
)
def test_reapply_makes_the_membership_what_the_directory_says(drift_host, admin, name, kind,
                                                              role, active):  # fmt: skip
    connection, user = drift_host["connection"], drift_host["users"][name]
    before = everything(connection)
    reconcile.reapply(connection, user.pk, actor=admin)
    member = membership(user)
    assert (member.role, member.is_active) == (role, active)
    fixed(connection, before, kind, user.user_name)
    event = ProvisioningEvent.objects.get(type=EventType.DRIFT_FIXED)
    assert event.changes["action"] == "reapply" and event.changes["userName"] == user.user_name
    assert event.actor["username"] == "admin" and event.resource_id == str(user.pk)


def test_reapply_reactivates_a_managed_host_user(drift_host, admin):
    connection, user = drift_host["connection"], drift_host["users"]["locked"]
    before = everything(connection)
    reconcile.reapply(connection, user.pk, actor=admin)
    assert User.objects.get(pk=user.host_user_id).is_active
    fixed(connection, before, "membership", user.user_name)


def test_reapply_refuses_held_and_rejected_people(drift_host):
    connection, users = drift_host["connection"], drift_host["users"]
    with pytest.raises(reconcile.CannotFix, match="waits for review"):
        reconcile.reapply(connection, users["held"].pk)
    with pytest.raises(reconcile.CannotFix, match="approve it now"):
        reconcile.reapply(connection, users["rejected"].pk)
    assert membership(users["rejected"]).is_active


def test_deactivate_an_unmanaged_member(drift_host, admin):
    connection, contractor = drift_host["connection"], drift_host["hosts"]["contractor"]
    before = everything(connection)
    reconcile.deactivate_member(connection, contractor.pk, actor=admin)
    member = OrganizationMembership.objects.get(user=contractor)
    assert not member.is_active and User.objects.get(pk=contractor.pk).is_active
    fixed(connection, before, "unmanaged", "contractor")
    event = ProvisioningEvent.objects.get(type=EventType.DRIFT_FIXED)
    assert event.changes == {"action": "deactivate", "host_user": contractor.pk,
                             "name": "contractor"}  # fmt: skip


def test_deactivate_refuses_staff_linked_people_and_other_accounts(drift_host):
    connection, hosts, users = drift_host["connection"], drift_host["hosts"], drift_host["users"]
    before = everything(connection)
    with pytest.raises(reconcile.CannotFix, match="staff"):
        reconcile.deactivate_member(connection, hosts["root"].pk)
    with pytest.raises(reconcile.CannotFix, match=r"linked to sibling@acme\.test"):
        reconcile.deactivate_member(connection, users["sibling"].host_user_id)
    for stranger in (hosts["outsider"].pk, hosts["former"].pk, 10**9, "x"):
        with pytest.raises(ResourceNotFound):
            reconcile.deactivate_member(connection, stranger)
    assert everything(connection) == before
    assert OrganizationMembership.objects.get(user=hosts["outsider"]).is_active
    assert not ProvisioningEvent.objects.filter(type=EventType.DRIFT_FIXED).exists()


def test_adopt_a_member_on_a_verified_domain(drift_host, admin):
    connection, newhire = drift_host["connection"], drift_host["hosts"]["newhire"]
    before = everything(connection)
    user = reconcile.adopt(connection, newhire.pk, actor=admin)
    assert (user.user_name, user.email, user.active) == ("newhire@acme.test",) * 2 + (True,)
    assert (user.host_user, user.host_link) == (newhire, HostLink.MANAGED)
    assert user.attributes["name"] == {"givenName": "New", "familyName": "Hire"}
    assert user.attributes["emails"] == [{"value": "newhire@acme.test", "primary": True}]
    fixed(connection, before, "unmanaged", "newhire")
    event = ProvisioningEvent.objects.get(type=EventType.USER_ADOPTED)
    assert event.changes["host_user"] == newhire.pk and event.actor["username"] == "admin"
    # The IdP finds it by userName, and from then on it is theirs.
    found = DirectoryUser.objects.filter(connection=connection, user_name="newhire@acme.test")
    assert found.get().pk == user.pk


def test_adopt_someone_another_account_manages_links_their_membership_only(drift_host):
    connection, other = drift_host["connection"], drift_host["other_connection"]
    theirs = directory.create_user(other, {"userName": "dual"})
    User.objects.filter(pk=theirs.host_user_id).update(email="dual@acme.test")
    OrganizationMembership.objects.create(organization=connection.account, user=theirs.host_user)
    user = reconcile.adopt(connection, theirs.host_user_id)
    assert user.host_link == HostLink.MEMBER


def test_adopt_refuses_what_the_ownership_rules_forbid(drift_host):
    connection, hosts = drift_host["connection"], drift_host["hosts"]
    before = everything(connection)
    with pytest.raises(reconcile.CannotFix, match="not on a domain verified"):
        reconcile.adopt(connection, hosts["contractor"].pk)
    with pytest.raises(reconcile.CannotFix, match="never linked"):
        reconcile.adopt(connection, hosts["root"].pk)
    with pytest.raises(ResourceNotFound):
        reconcile.adopt(connection, hosts["outsider"].pk)
    assert everything(connection) == before
    assert not ProvisioningEvent.objects.filter(type=EventType.USER_ADOPTED).exists()


def test_adopt_refuses_a_taken_user_name(drift_host):
    connection, newhire = drift_host["connection"], drift_host["hosts"]["newhire"]
    DirectoryUser.objects.create(connection=connection, user_name="NEWHIRE@acme.test")
    with pytest.raises(reconcile.CannotFix, match="already has a user named"):
        reconcile.adopt(connection, newhire.pk)


def test_approve_a_rejected_removal_now(drift_host, admin):
    connection, user = drift_host["connection"], drift_host["users"]["rejected"]
    before = everything(connection)
    removal = Removal.objects.get(user_id=user.pk, state=RemovalState.REJECTED)
    reconcile.approve_rejected(connection, removal.pk, actor=admin)
    assert not membership(user).is_active
    assert not User.objects.get(pk=user.host_user_id).is_active  # managed, no other account
    removal.refresh_from_db()
    assert removal.state == RemovalState.APPROVED and removal.decided_by.username == "admin"
    fixed(connection, before, "rejected", user.user_name)
    types = list(ProvisioningEvent.objects.order_by("-number").values_list("type", flat=True)[:2])
    assert types == [EventType.DRIFT_FIXED, EventType.USER_REMOVAL_APPROVED]


def test_rows_of_another_connection_are_not_found(drift_host):
    connection, other = drift_host["connection"], drift_host["other_connection"]
    theirs = drift_host["users"]["theirs"]
    with pytest.raises(ResourceNotFound):
        reconcile.reapply(connection, theirs.pk)
    removal = Removal.objects.get(state=RemovalState.REJECTED)
    with pytest.raises(ResourceNotFound):
        reconcile.approve_rejected(other, removal.pk)
    with pytest.raises(ResourceNotFound):
        reconcile.approve_rejected(connection, "not-a-number")
    assert membership(theirs) is None
    assert Removal.objects.get(pk=removal.pk).state == RemovalState.REJECTED
    # The other connection's own report has its own row only.
    assert everything(other)["membership"] == ["theirs@globex.test"]


def test_csv_has_every_row_and_defuses_formulas(drift_host):
    connection = drift_host["connection"]
    DirectoryUser.objects.filter(pk=drift_host["users"]["lost"].pk).update(user_name="=HYPERLINK()")
    out = io.StringIO()
    written = drift_csv.write_csv(connection, out)
    records = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert written == len(records) == sum(COUNTS.values())
    assert {record["kind"] for record in records} == set(drift.KINDS)
    lost = next(r for r in records if r["directory_id"] == str(drift_host["users"]["lost"].pk))
    assert lost["userName"] == "'=HYPERLINK()" and lost["host"] == "no membership"
    held = next(r for r in records if r["kind"] == "held")
    assert "removed within an hour" in held["reason"]
    contractor = next(r for r in records if r["host_user"] == "contractor")
    assert contractor["email"] == "c@elsewhere.test" and contractor["directory_id"] == ""
    assert "".join(drift_csv.lines(connection)) == out.getvalue()


def test_a_rejected_removal_is_moot_once_a_later_one_is_held(drift_host):
    connection, user = drift_host["connection"], drift_host["users"]["rejected"]
    directory.delete_user(connection, user.pk)  # the brake holds it: an admin rejected before
    report = drift.Drift(connection)
    assert report.counts() == {**COUNTS, "held": 2, "rejected": 0}
    deleted = next(row for row in report.rows("held") if row.user_name == user.user_name)
    assert (deleted.directory, deleted.email) == ("deleted", "rejected@acme.test")
    assert deleted.host_username == "rejected@acme.test"
    with pytest.raises(reconcile.CannotFix, match="waits for review or was rejected"):
        reconcile.deactivate_member(connection, user.host_user_id)


def test_an_unknown_kind_is_refused(drift_host):
    with pytest.raises(ValueError, match="Unknown kind"):
        drift.Drift(drift_host["connection"]).queryset("everything")


def test_a_user_whose_activity_the_idp_never_set_is_active(drift_host):
    connection = drift_host["connection"]
    unset = [drift_host["users"][name].pk for name in ("lost", "stale", "fine")]
    DirectoryUser.objects.filter(pk__in=unset).update(active=None)
    assert drift.Drift(connection).counts() == COUNTS
    assert everything(connection) == EXPECTED


def test_an_inactive_membership_s_role_is_not_compared(drift_host):
    fine = drift_host["users"]["fine"]
    DirectoryUser.objects.filter(pk=fine.pk).update(active=False)
    OrganizationMembership.objects.filter(user_id=fine.host_user_id).update(
        is_active=False, role="admin"
    )
    assert drift.Drift(drift_host["connection"]).counts() == COUNTS


def test_adopt_under_always_create_links_the_membership_only(drift_host, admin):
    # "Create a new user; never claim an existing one": adopting links the person's
    # membership, and the identity provider never edits or deactivates their account.
    connection, newhire = drift_host["connection"], drift_host["hosts"]["newhire"]
    directory.update_connection_settings(connection, link_policy="always_create")
    user = reconcile.adopt(connection, newhire.pk, actor=admin)
    assert (user.host_user, user.host_link) == (newhire, HostLink.MEMBER)
    directory.update_user(
        connection, user.pk, lambda u: {**u.attributes, "name": {"givenName": "Renamed"}}
    )
    newhire.refresh_from_db()
    assert newhire.first_name == "New"
