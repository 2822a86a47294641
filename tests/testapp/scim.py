"""A host-declared SCIM extension, as a host would write one with scim2-models."""

from typing import Annotated

from django.db.models import F
from scim2_models import URN, ComplexAttribute, Extension, Mutability, Required, Returned

from scim_portal.provisioning.adapter import AccountMemberships

from .models import OrganizationMembership


class Locker(ComplexAttribute):
    number: Annotated[str | None, Required.false] = None
    #: Write-only, never returned: a secret a host declares (tests/scim/test_secrets.py).
    combination: Annotated[str | None, Mutability.write_only, Returned.never] = None


class BadgeExtension(Extension):
    __schema__ = URN("urn:example:params:scim:schemas:extension:badge:2.0:User")

    badge_number: Annotated[str | None, Required.false] = None
    floor: Annotated[int | None, Required.false] = None
    #: Write-only, never returned: a secret a host declares (tests/scim/test_secrets.py).
    pin: Annotated[str | None, Mutability.write_only, Returned.never] = None
    locker: Annotated[Locker | None, Required.false] = None


class Memberships(AccountMemberships):
    """The test host's memberships hook."""

    def roles(self, account):
        return [("admin", "Admin"), ("editor", "Editor"), ("viewer", "Viewer")]

    def add(self, account, user, *, role, active):
        # One upsert on the unique (organization, user): no savepoints, no read first.
        OrganizationMembership.objects.bulk_create(
            [OrganizationMembership(organization=account, user=user, role=role, is_active=active)],
            update_conflicts=True,
            unique_fields=["organization", "user"],
            update_fields=["role", "is_active"],
        )

    def set_active(self, account, user, active):
        OrganizationMembership.objects.filter(organization=account, user=user).update(
            is_active=active
        )

    def set_role(self, account, user, role):
        OrganizationMembership.objects.filter(organization=account, user=user).update(role=role)

    def remove(self, account, user):
        OrganizationMembership.objects.filter(organization=account, user=user).delete()

    def members(self, account):
        return OrganizationMembership.objects.filter(organization=account).values(
            host_user=F("user_id"), host_role=F("role"), host_active=F("is_active")
        )

    def active_elsewhere(self, account):
        return (
            OrganizationMembership.objects.filter(is_active=True)
            .exclude(organization=account)
            .values("user_id")
        )

    def has_other_active_memberships(self, account, user):
        return (
            OrganizationMembership.objects.filter(user=user, is_active=True)
            .exclude(organization=account)
            .exists()
        )
