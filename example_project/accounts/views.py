from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from scim_portal.provisioning.events import Actor
from scim_portal.provisioning.ownership import CannotLink, accept_invitation, invitations_for

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


@login_required
def invitations(request):
    """Accounts whose identity provider provisioned someone with this person's email."""
    return render(
        request, "accounts/invitations.html", {"invitations": invitations_for(request.user)}
    )


@require_POST
@login_required
def accept(request, directory_user_id):
    invitation = invitations_for(request.user).filter(pk=directory_user_id).first()
    if invitation is None:
        raise Http404("No such invitation.")
    try:
        accept_invitation(invitation, request.user, actor=Actor.for_user(request.user))
    except CannotLink as exc:
        messages.error(request, str(exc))
        return redirect("invitations")
    return redirect("dashboard", account_slug=invitation.connection.account.slug)
