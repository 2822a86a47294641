"""``manage.py seed_demo``: the demo accounts and logins (idempotent)."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from example_project.accounts.models import Account
from example_project.accounts.roles import ensure_roles, set_membership

#: username, password, account slug, role
DEMO_USERS = [
    ("acme-admin", "acme-admin-demo", "acme", "admin"),
    ("acme-auditor", "acme-auditor-demo", "acme", "auditor"),
    ("acme-member", "acme-member-demo", "acme", "member"),
    ("globex-admin", "globex-admin-demo", "globex", "admin"),
]
DEMO_ACCOUNTS = {"acme": "Acme Corporation", "globex": "Globex Inc."}
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
                username=username, defaults={"email": f"{username}@example.com"}
            )
            if created:
                user.set_password(password)
                user.save()
            set_membership(accounts[slug], user, role)
        staff, created = user_model.objects.get_or_create(
            username=STAFF[0],
            defaults={"email": "staff@example.com", "is_staff": True, "is_superuser": True},
        )
        if created:
            staff.set_password(STAFF[1])
            staff.save()

        self.stdout.write("Demo logins (username / password):")
        for username, password, slug, role in DEMO_USERS:
            self.stdout.write(f"  {username:<14} / {password:<20} {role} of {slug}")
        self.stdout.write(f"  {STAFF[0]:<14} / {STAFF[1]:<20} vendor staff (Django admin)")
