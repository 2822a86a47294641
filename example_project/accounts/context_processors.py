"""Template context for the site layout: the current account and the account switcher."""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse

from scim_portal import permissions

from .models import Account


def accounts(request: Any) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if user.is_superuser:
        user_accounts = list(Account.objects.all())
    else:
        user_accounts = list(
            Account.objects.filter(memberships__user=user, memberships__is_active=True)
        )
    match = getattr(request, "resolver_match", None)
    # The site's own pages name the account "account_slug", the Provisioning tab "account".
    slug = (match.kwargs.get("account_slug") or match.kwargs.get("account")) if match else None
    current = next((a for a in user_accounts if a.slug == slug), None)
    provisioning_url = None
    if current is not None and permissions.has_account_perm(user, permissions.READ, current):
        try:
            provisioning_url = reverse(
                "scim_portal:portal:connection-list", kwargs={"account": current.slug}
            )
        except NoReverseMatch:
            provisioning_url = None
    return {
        "user_accounts": user_accounts,
        "current_account": current,
        "provisioning_url": provisioning_url,
    }
