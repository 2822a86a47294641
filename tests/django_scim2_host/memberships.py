"""The host's memberships hook, as docs/integration.md describes one."""

from scim_portal.provisioning.adapter import AccountMemberships

from .models import TeamMembership


class TeamMemberships(AccountMemberships):
    def add(self, account, user, *, role, active):
        TeamMembership.objects.update_or_create(
            team=account, user=user, defaults={"role": role, "is_active": active}
        )

    def set_active(self, account, user, active):
        TeamMembership.objects.filter(team=account, user=user).update(is_active=active)

    def set_role(self, account, user, role):
        TeamMembership.objects.filter(team=account, user=user).update(role=role)

    def remove(self, account, user):
        TeamMembership.objects.filter(team=account, user=user).delete()

    def has_other_active_memberships(self, account, user):
        return (
            TeamMembership.objects.filter(user=user, is_active=True).exclude(team=account).exists()
        )
