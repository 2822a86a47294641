from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from .models import Account, Membership
from .roles import ROLES, role_key


@login_required
def home(request):
    membership = (
        Membership.objects.filter(user=request.user, is_active=True)
        .select_related("account")
        .order_by("account__name")
        .first()
    )
    if membership is not None:
        return redirect("dashboard", account_slug=membership.account.slug)
    account = Account.objects.order_by("name").first() if request.user.is_superuser else None
    if account is not None:
        return redirect("dashboard", account_slug=account.slug)
    return render(request, "accounts/no_account.html")


@login_required
def dashboard(request, account_slug):
    account = get_object_or_404(Account, slug=account_slug)
    membership = Membership.objects.filter(
        account=account, user=request.user, is_active=True
    ).first()
    if membership is None and not request.user.is_superuser:
        raise Http404("No such account.")
    members = account.memberships.select_related("user", "role").order_by("user__username")
    role = role_key(membership) if membership else None
    return render(
        request,
        "accounts/dashboard.html",
        {
            "account": account,
            "role_label": ROLES[role][0] if role in ROLES else "Staff",
            "members": [(m, ROLES.get(role_key(m) or "", ("—",))[0]) for m in members],
        },
    )
