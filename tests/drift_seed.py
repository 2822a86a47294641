"""A host with every kind of drift, for the drift report's tests (provisioning, portal,
API, command), as the ``drift_host`` fixture (conftest.py). Built on ``setup``: account
``acme`` with its connection "Okta" (whose user ada@example.com agrees with the host),
and ``globex``."""

from __future__ import annotations

from typing import Any

from scim_portal.models import DirectoryUser
from scim_portal.provisioning import create_connection, directory, safety
from tests.factories import UserFactory, VerifiedDomainFactory
from tests.testapp.models import OrganizationMembership

#: What the report of acme's "Okta" holds, by kind (userNames; host usernames for unmanaged).
EXPECTED = {
    "unmanaged": ["contractor", "newhire", "root"],
    "membership": ["both@acme.test", "gone@acme.test", "locked@acme.test", "lost@acme.test",
                   "stale@acme.test"],
    "role": ["promoted@acme.test", "unset@acme.test"],
    "held": ["held@acme.test"],
    "rejected": ["rejected@acme.test"],
}  # fmt: skip
COUNTS = {kind: len(names) for kind, names in EXPECTED.items()}


def _user(connection: Any, name: str) -> DirectoryUser:
    document = {"userName": name, "emails": [{"value": name, "primary": True}], "active": True}
    return directory.create_user(connection, document)


def _membership(user: DirectoryUser) -> Any:
    return OrganizationMembership.objects.filter(
        organization=user.connection.account, user=user.host_user
    )


def _member(account: Any, **fields: Any) -> Any:
    role = fields.pop("role", "")
    active = fields.pop("active", True)
    person = UserFactory(**fields)
    OrganizationMembership.objects.create(
        organization=account, user=person, role=role, is_active=active
    )
    return person


def seed(setup: dict[str, Any]) -> dict[str, Any]:
    account, connection = setup["account"], setup["connection"]
    VerifiedDomainFactory(account=account, domain="acme.test")
    users = {
        name: _user(connection, f"{name}@acme.test")
        for name in ("fine", "lost", "stale", "gone", "promoted", "both", "locked", "held",
                     "rejected", "unset")
    }  # fmt: skip
    _membership(users["lost"]).delete()
    _membership(users["stale"]).update(is_active=False)
    # Another role too, shown as a membership row only (as "both" and "locked").
    DirectoryUser.objects.filter(pk=users["gone"].pk).update(active=False)
    _membership(users["gone"]).update(role="admin")
    _membership(users["promoted"]).update(role="admin")
    # The IdP never said whether "unset" is active (NULL): active, with another role.
    DirectoryUser.objects.filter(pk=users["unset"].pk).update(active=None)
    _membership(users["unset"]).update(role="editor")
    _membership(users["both"]).update(is_active=False, role="admin")
    type(users["locked"].host_user).objects.filter(pk=users["locked"].host_user_id).update(
        is_active=False
    )
    _membership(users["locked"]).update(role="admin")
    # The brake: any removal is held; one is rejected, the other waits (and its role
    # differs too: it is shown as held only).
    connection.brake_minimum, connection.brake_percent = 1, 1
    connection.save(update_fields=["brake_minimum", "brake_percent"])
    for name in ("rejected", "held"):
        directory.update_user(
            connection, users[name].pk, lambda user: {**user.attributes, "active": False}
        )
        if name == "rejected":
            safety.reject(connection, actor=safety.SYSTEM)
    _membership(users["held"]).update(role="admin")
    # People of the account no directory user stands for.
    hosts = {
        "contractor": _member(account, username="contractor", email="c@elsewhere.test",
                              role="viewer"),
        "newhire": _member(account, username="newhire", email="newhire@acme.test",
                           first_name="New", last_name="Hire"),
        "root": _member(account, username="root", email="root@acme.test", is_staff=True),
        "former": _member(account, username="former", email="former@acme.test", active=False),
    }  # fmt: skip
    # A sibling connection of the account manages someone: not unmanaged.
    sibling, _ = create_connection(account=account, name="Entra", provider="entra")
    users["sibling"] = _user(sibling, "sibling@acme.test")
    # Another account's people and drift are not acme's.
    other = setup["other_connection"]
    hosts["outsider"] = _member(other.account, username="outsider", email="o@globex.test")
    users["theirs"] = _user(other, "theirs@globex.test")
    _membership(users["theirs"]).delete()
    return {"users": users, "hosts": hosts, "sibling": sibling}
