"""Check what a benchmark first sync left in one database; print the findings (JSON).

    python bench/verify_sync.py portal TAG USERS GROUPS   (DJANGO_SETTINGS_MODULE=bench.portal_settings)
    python bench/verify_sync.py peer TAG USERS GROUPS     (DJANGO_SETTINGS_MODULE=peer.settings)

The first sync (bench/run.py) creates USERS users named ``sync-TAG-<i>@example.com``, then
GROUPS groups ``Sync TAG <g>`` with an equal share of them as members. For the portal every
directory user must have a host user it manages, with the userName as username and email,
active, an active membership of the account with the connection's default role, and the
groups their members; for django-scim2 (whose SCIM users are its host users) the users and
the groups' members. ``problems`` lists what is missing or wrong (empty when all is right).
"""

import json
import sys

import django


def verify_portal(tag: str, users: int, groups: int) -> dict:
    from scim_portal.models import DirectoryGroup, DirectoryUser, GroupMembership, HostLink
    from tests.testapp.models import OrganizationMembership

    problems = []
    synced = DirectoryUser.objects.filter(user_name__startswith=f"sync-{tag}-").select_related(
        "host_user", "connection"
    )
    seen = 0
    for user in synced.iterator(chunk_size=2000):
        seen += 1
        host = user.host_user
        if host is None or user.host_link != HostLink.MANAGED:
            problems.append(f"{user.user_name}: no managed host user")
        elif not (
            host.username == user.user_name and host.email == user.user_name and host.is_active
        ):
            problems.append(f"{user.user_name}: host user {host.pk} differs")
    if seen != users:
        problems.append(f"{seen} directory users, not {users}")
    first = synced.first()
    connection = first.connection if first else None
    role = connection.default_role if connection else ""
    # Of the connection's account: a membership elsewhere is a tenant leak, not a member.
    members = OrganizationMembership.objects.filter(
        organization_id=connection.account_id if connection else None,
        user__username__startswith=f"sync-{tag}-",
    )
    good = members.filter(is_active=True, role=role).count()
    if good != users:
        problems.append(f"{good} active memberships with role {role!r}, not {users}")
    made = DirectoryGroup.objects.filter(display_name__startswith=f"Sync {tag} ")
    per_group = users // groups if groups else 0
    if made.count() != groups:
        problems.append(f"{made.count()} groups, not {groups}")
    wrong = [
        g.display_name for g in made if GroupMembership.objects.filter(group=g).count() != per_group
    ]
    if wrong:
        problems.append(f"{len(wrong)} groups without {per_group} members, e.g. {wrong[0]}")
    # Each group's members are people of this sync, each in one group only (a count per
    # group alone passes with one person in two groups and another in none).
    in_groups = GroupMembership.objects.filter(group__in=made)
    people = in_groups.values("user_id").distinct().count()
    strays = in_groups.exclude(user__in=synced).count()
    if people != per_group * len(made) or strays:
        problems.append(f"group members are {people} people ({strays} not of this sync), "
                        f"not {per_group * len(made)} in one group each")  # fmt: skip
    return {"users": seen, "memberships": good, "role": role, "groups": made.count(),
            "problems": problems[:20], "problem_count": len(problems)}  # fmt: skip


def verify_peer(tag: str, users: int, groups: int) -> dict:
    from peer.models import Group, User

    problems = []
    synced = User.objects.filter(username__startswith=f"sync-{tag}-")
    count = synced.count()
    if count != users:
        problems.append(f"{count} users, not {users}")
    bad = synced.exclude(is_active=True).count()
    if bad:
        problems.append(f"{bad} users inactive")
    made = Group.objects.filter(scim_display_name__startswith=f"Sync {tag} ")
    per_group = users // groups if groups else 0
    if made.count() != groups:
        problems.append(f"{made.count()} groups, not {groups}")
    wrong = [g.scim_display_name for g in made if g.user_set.count() != per_group]
    if wrong:
        problems.append(f"{len(wrong)} groups without {per_group} members, e.g. {wrong[0]}")
    people = User.objects.filter(memberships__in=made).distinct()
    strays = people.exclude(pk__in=synced).count()
    if people.count() != per_group * len(made) or strays:
        problems.append(f"group members are {people.count()} people ({strays} not of this "
                        f"sync), not {per_group * len(made)} in one group each")  # fmt: skip
    return {"users": count, "groups": made.count(), "problems": problems[:20],
            "problem_count": len(problems)}  # fmt: skip


if __name__ == "__main__":
    target, tag, users, groups = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    django.setup()
    verify = verify_portal if target == "portal" else verify_peer
    print(json.dumps(verify(tag, users, groups)))
