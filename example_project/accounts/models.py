"""The example SaaS's tenants: accounts, and users' memberships with a role."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models


class Account(models.Model):
    """A customer of the SaaS (the tenant)."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's membership of an account; the role is a Django group of that account."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "user"], name="accounts_membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.account}"
