import pytest
from guardian.shortcuts import assign_perm

from scim_portal import permissions
from scim_portal.models import DirectoryGroup, DirectoryUser, RequestLog
from scim_portal.provisioning import create_connection, directory
from tests.factories import OrganizationFactory, UserFactory


def grant(user, account, *codenames):
    for codename in codenames:
        assign_perm(permissions.perm_name(codename), user, account)
    return user


@pytest.fixture
def setup(db):
    """Account A with a populated connection, and people with different powers."""
    account, other_account = (
        OrganizationFactory(handle="acme"),
        OrganizationFactory(handle="globex"),
    )
    connection, issued = create_connection(account=account, name="Okta", provider="okta")
    user = directory.create_user(connection, {"userName": "ada@example.com"})
    group = directory.create_group(
        connection, {"displayName": "Eng"}, directory.MemberChange("add", (str(user.pk),))
    )
    log = RequestLog.objects.create(
        connection=connection, method="GET", path="/scim/v2/x/Users", status=401, duration_ms=2
    )
    other_connection, _ = create_connection(account=other_account, name="Theirs", provider="entra")
    people = {
        "admin": grant(
            UserFactory(username="admin"), account,
            permissions.READ, permissions.CREATE, permissions.DELETE,
        ),
        "auditor": grant(UserFactory(username="auditor"), account, permissions.READ),
        "member": UserFactory(username="member"),
        "other_admin": grant(
            UserFactory(username="other"), other_account,
            permissions.READ, permissions.CREATE, permissions.DELETE,
        ),
    }  # fmt: skip
    return {
        "account": account,
        "connection": connection,
        "token": issued.token,
        "user": user,
        "group": group,
        "log": log,
        "other_connection": other_connection,
        "people": people,
    }


@pytest.fixture
def base(setup):
    return f"/provisioning/acme/{setup['connection'].pk}"


__all__ = ["DirectoryGroup", "DirectoryUser", "grant"]
