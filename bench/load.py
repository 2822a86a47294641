"""Load a directory into one benchmark database and print what the driver needs (JSON).

    python bench/load.py portal USERS     (DJANGO_SETTINGS_MODULE=bench.portal_settings)
    python bench/load.py peer USERS       (DJANGO_SETTINGS_MODULE=peer.settings)

USERS users (Okta-shaped, with a work email), 100 groups, and one group with
min(10,000, USERS) members. The portal's users are as a first sync leaves them: each
manages a host user of its name (django-scim2's users are its host users), an active
member of the account with the connection's default role, so PUT and PATCH change a host
user and a membership as they would in production. Rows go in with PostgreSQL's ``COPY`` (:func:`copy_rows`),
in batches of :data:`BATCH`: loading is not what is measured, but 1,000,000 users must
load in minutes (``bulk_create`` spent most of its time quoting parameters).
The portal's connection also gets a Basic credential and an OAuth client secret (the
authentication scenarios of bench/run.py).
"""

import json
import sys

import django

GROUPS = 100
BIG_GROUP = 10_000
BATCH = 20_000


def copy_rows(instances):
    """Insert model ``instances`` of one model with ``COPY``, each value as ``bulk_create``
    would send it (the field's ``pre_save`` then ``get_db_prep_save``); an automatic
    primary key is left to the database."""
    from django.db import connection
    from django.db.models.fields import AutoFieldMixin

    model = type(instances[0])
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, AutoFieldMixin)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    with connection.cursor() as cursor:
        copy_sql = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            for instance in instances:
                copy.write_row(
                    [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
                )


def user_name(i):
    return f"user{i:06d}@example.com"


def load_portal(count):
    from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
    from django.contrib.auth.models import User

    from scim_portal.models import DirectoryGroup, DirectoryUser, GroupMembership, HostLink
    from scim_portal.provisioning import create_connection, issue_credential
    from scim_portal.provisioning.documents import group_columns, user_columns, value_rows
    from tests.testapp.models import Organization, OrganizationMembership

    account = Organization.objects.create(handle=f"bench{count}", name="Bench")
    connection, issued = create_connection(account=account, name="Bench", provider="okta")
    # New users join the account with a role (the first sync checks every membership has it).
    connection.default_role = "viewer"
    connection.save(update_fields=["default_role"])
    basic = issue_credential(connection, "basic", label="Bench")
    client_secret = issue_credential(connection, "client_secret", label="Bench")
    connection.refresh_from_db()
    users = []
    for start in range(0, count, BATCH):
        numbers = range(start, min(count, start + BATCH))
        # As a first sync leaves them: each directory user manages a host user of its
        # name, an active member of the account with the connection's default role.
        copy_rows([
            User(username=user_name(i), email=user_name(i), first_name=f"Given{i}",
                 last_name=f"Family{i}", password=UNUSABLE_PASSWORD_PREFIX, is_active=True)
            for i in numbers
        ])  # fmt: skip
        hosts = dict(
            User.objects.filter(username__in=[user_name(i) for i in numbers]).values_list(
                "username", "pk"
            )
        )
        copy_rows([
            OrganizationMembership(organization=account, user_id=hosts[user_name(i)],
                                   role=connection.default_role, is_active=True)
            for i in numbers
        ])  # fmt: skip
        batch = []
        for i in numbers:
            document = {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name(i),
                "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
                "emails": [{"value": user_name(i), "type": "work", "primary": True}],
                "active": True,
            }
            batch.append(
                DirectoryUser(
                    connection=connection, attributes=document, host_user_id=hosts[user_name(i)],
                    host_link=HostLink.MANAGED, role=connection.default_role,
                    **user_columns(document),
                )
            )  # fmt: skip
        copy_rows(batch)
        copy_rows([row for u in batch for row in value_rows(u)])
        users += [str(u.pk) for u in batch]
    groups = []
    for g in range(GROUPS):
        document = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": f"Group {g:03d}",
        }
        groups.append(
            DirectoryGroup(connection=connection, attributes=document, **group_columns(document))
        )
    DirectoryGroup.objects.bulk_create(groups)
    big = groups[0]
    members = users[: min(BIG_GROUP, count)]
    if members:
        copy_rows([GroupMembership(group=big, user_id=u) for u in members])
    return {
        "base": f"/scim/v2/{connection.pk}",
        "floor": f"/floor/{connection.pk}/",
        "token": issued.raw,
        "basic": {"username": basic.credential.username, "password": basic.raw},
        "client": {"client_id": connection.oauth_client_id, "client_secret": client_secret.raw},
        "token_endpoint": "/scim/oauth/token",
        "users": users[:: max(1, count // 500)][:500],
        "user_names": [user_name(i) for i in range(0, count, max(1, count // 500))][:500],
        "non_members": users[len(members) :][:200] or users[-200:],
        "big_group": str(big.pk),
        "member_ids": "uuid",
    }


def load_peer(count):
    import uuid

    from django.db.models import CharField
    from django.db.models.functions import Cast
    from peer.models import Group, Token, User

    service = User.objects.create(username=f"scim-service-{count}")
    raw = f"peer-{uuid.uuid4().hex}"
    Token.objects.create(digest=Token.digest_of(raw), user=service)
    for start in range(0, count, BATCH):
        copy_rows([
            User(username=user_name(i), scim_username=user_name(i), email=user_name(i),
                 first_name=f"Given{i}", last_name=f"Family{i}", is_active=True)
            for i in range(start, min(count, start + BATCH))
        ])  # fmt: skip
    users = User.objects.exclude(pk=service.pk)
    # django-scim2 uses the database id as the SCIM id: one UPDATE, not one per batch.
    users.update(scim_id=Cast("pk", CharField()))
    ids = [(pk, str(pk)) for pk in users.order_by("pk").values_list("pk", flat=True)]
    groups = Group.objects.bulk_create(
        [Group(name=f"Group {g:03d}", scim_display_name=f"Group {g:03d}") for g in range(GROUPS)]
    )
    for group in groups:
        group.scim_id = str(group.pk)
    Group.objects.bulk_update(groups, ["scim_id"])
    big = groups[0]
    members = ids[: min(BIG_GROUP, count)]
    through = User.memberships.through
    if members:
        copy_rows([through(user_id=pk, group_id=big.pk) for pk, _ in members])
    step = max(1, count // 500)
    return {
        "base": "/scim/v2",
        "token": raw,
        "users": [scim for _, scim in ids[::step]][:500],
        "user_names": [user_name(i) for i in range(0, count, step)][:500],
        "non_members": [str(pk) for pk, _ in ids[len(members) :][:200] or ids[-200:]],
        "big_group": big.scim_id,
        "member_ids": "int",
    }


if __name__ == "__main__":
    target, count = sys.argv[1], int(sys.argv[2])
    django.setup()
    print(json.dumps(load_portal(count) if target == "portal" else load_peer(count)))
