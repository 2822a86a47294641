"""``manage.py seed_demo``: the demo accounts and logins (idempotent)."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from example_project.accounts.models import Account
from example_project.accounts.roles import ensure_roles, set_membership
from scim_portal.models import AccountDomain, VerificationMethod

#: username, password, account slug, role
DEMO_USERS = [
    ("acme-admin", "acme-admin-demo", "acme", "admin"),
    ("acme-auditor", "acme-auditor-demo", "acme", "auditor"),
    ("acme-member", "acme-member-demo", "acme", "member"),
    ("globex-admin", "globex-admin-demo", "globex", "admin"),
]
DEMO_ACCOUNTS = {"acme": "Acme Corporation", "globex": "Globex Inc."}
#: Each account's people have addresses on its own domain; acme's is verified (as vendor
#: staff would mark it), so acme's connections may claim acme's existing people.
EMAIL_DOMAINS = {"acme": "acme.example", "globex": "globex.example"}
VERIFIED = ["acme"]
STAFF = ("staff", "staff-demo")


class Command(BaseCommand):
    help = "Create the demo accounts acme and globex, their users and roles, and print the logins."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        accounts = {}
        for slug, name in DEMO_ACCOUNTS.items():
            accounts[slug], _ = Account.objects.get_or_create(slug=slug, defaults={"name": name})
            ensure_roles(accounts[slug])
        for username, password, slug, role in DEMO_USERS:
            user, created = user_model.objects.get_or_create(
                username=username, defaults={"email": f"{username}@{EMAIL_DOMAINS[slug]}"}
            )
            if created:
                user.set_password(password)
                user.save()
            set_membership(accounts[slug], user, role)
        staff, created = user_model.objects.get_or_create(
            username=STAFF[0],
            defaults={"email": "staff@vendor.example", "is_staff": True, "is_superuser": True},
        )
        if created:
            staff.set_password(STAFF[1])
            staff.save()
        for slug in VERIFIED:
            AccountDomain.objects.get_or_create(
                account=accounts[slug],
                domain=EMAIL_DOMAINS[slug],
                defaults={
                    "verification_token": AccountDomain.generate_token(),
                    "verified_at": timezone.now(),
                    "verified_by": staff,
                    "verification_method": VerificationMethod.STAFF,
                },
            )

        self.stdout.write("Demo logins (username / password):")
        for username, password, slug, role in DEMO_USERS:
            self.stdout.write(f"  {username:<14} / {password:<20} {role} of {slug}")
        self.stdout.write(f"  {STAFF[0]:<14} / {STAFF[1]:<20} vendor staff (Django admin)")
