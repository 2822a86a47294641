"""``manage.py seed_demo``: the demo accounts and logins, and a connection of globex with a
month of history for the overview's charts (idempotent)."""

import random
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from example_project.accounts.models import Account
from example_project.accounts.roles import ensure_roles, set_membership
from scim_portal.models import (
    AccountDomain,
    Connection,
    EventType,
    ProvisioningEvent,
    RequestLog,
    VerificationMethod,
)
from scim_portal.provisioning import create_connection, directory

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
#: globex's demo connection (acme starts with none: its admin creates the first one).
HISTORY_CONNECTION = ("globex", "Okta (demo history)")


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
        if not Connection.objects.filter(
            account=accounts[HISTORY_CONNECTION[0]], name=HISTORY_CONNECTION[1]
        ).exists():
            seed_history(accounts[HISTORY_CONNECTION[0]], HISTORY_CONNECTION[1])

        self.stdout.write("Demo logins (username / password):")
        for username, password, slug, role in DEMO_USERS:
            self.stdout.write(f"  {username:<14} / {password:<20} {role} of {slug}")
        self.stdout.write(f"  {STAFF[0]:<14} / {STAFF[1]:<20} vendor staff (Django admin)")


def seed_history(account: Account, name: str) -> None:
    """A connection whose identity provider has pushed for a month: 36 people and 4 groups
    arriving over 30 days (3 of them deleted since), and 7 days of request logs — mostly
    successes, some 4xx, a few 429s and one burst of 5xx — so the overview's charts show
    something real. Dates are moved back after the fact; nothing else is written this way."""
    now = timezone.now()
    rng = random.Random(21)  # noqa: S311  (the same demo every time, not a secret)
    connection, _ = create_connection(account=account, name=name, provider="okta")
    Connection.objects.filter(pk=connection.pk).update(created_at=now - timedelta(days=31))
    groups = [
        directory.create_group(connection, {"displayName": f"Globex {team}"})
        for team in ("Engineering", "Sales", "Support", "Finance")
    ]
    people = []
    for number in range(1, 37):
        person = directory.create_user(
            connection,
            {
                "userName": f"person{number:02d}@globex-idp.example",
                "name": {"givenName": "Person", "familyName": f"{number:02d}"},
                "emails": [{"value": f"person{number:02d}@globex-idp.example", "primary": True}],
                "active": True,
            },
        )
        people.append(person)
    for person in people[-3:]:
        directory.delete_user(connection, person.pk)
    # Back-date: the groups in the first days, people over the month, deletions lately.
    events = ProvisioningEvent.objects.filter(connection=connection)
    for index, group in enumerate(groups):
        events.filter(resource_id=str(group.pk)).update(
            created_at=now - timedelta(days=29 - index, hours=3)
        )
    for index, person in enumerate(people):
        events.filter(resource_id=str(person.pk), type=EventType.USER_CREATED).update(
            created_at=now - timedelta(days=28 - index * 27 // len(people), hours=2)
        )
    for index, person in enumerate(people[-3:]):
        events.filter(resource_id=str(person.pk), type=EventType.USER_DELETED).update(
            created_at=now - timedelta(days=4 - index, hours=1)
        )
    path = f"/scim/v2/{connection.pk}/Users"
    agent = "Okta SCIM Client 1.0.0"
    logs = []
    for hour in range(7 * 24):
        moment = now - timedelta(hours=hour)
        for _ in range(rng.randint(2, 9 if 8 <= moment.hour <= 18 else 4)):
            roll = rng.random()
            status = 200 if roll < 0.9 else 201 if roll < 0.95 else 404 if roll < 0.985 else 429
            logs.append((moment - timedelta(minutes=rng.randint(0, 59)), status))
    burst = now - timedelta(days=2, hours=5)  # the IdP met an outage: one burst of 503s
    logs += [(burst + timedelta(seconds=20 * step), 503) for step in range(12)]
    RequestLog.objects.bulk_create(
        RequestLog(
            connection=connection,
            created_at=moment,
            method="GET" if status != 201 else "POST",
            path=path,
            status=status,
            duration_ms=rng.uniform(3, 40),
            user_agent=agent,
            idp="okta",
            credential_kind="bearer",
            token_prefix="scimp_demo",  # noqa: S106  (a shown prefix, no secret)
            source_ip="198.51.100.23",
        )
        for moment, status in logs
    )
