import pytest
from django.contrib.auth.models import Group, Permission
from guardian.shortcuts import assign_perm

from scim_portal import permissions
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_permissions_exist_on_the_account_model_after_migrate():
    codenames = set(
        Permission.objects.filter(content_type__app_label="testapp").values_list(
            "codename", flat=True
        )
    )
    assert {permissions.READ, permissions.CREATE, permissions.DELETE} <= codenames


def test_permission_granted_on_one_account_does_not_reach_another():
    acme, globex = OrganizationFactory(), OrganizationFactory()
    admins = Group.objects.create(name="acme admins")
    assign_perm(permissions.perm_name(permissions.READ), admins, acme)
    user = UserFactory()
    user.groups.add(admins)

    assert permissions.has_account_perm(user, permissions.READ, acme)
    assert not permissions.has_account_perm(user, permissions.CREATE, acme)
    assert not permissions.has_account_perm(user, permissions.READ, globex)


def test_superuser_has_every_permission():
    user = UserFactory(is_superuser=True)
    assert permissions.has_account_perm(user, permissions.DELETE, OrganizationFactory())
