"""Ownership of host users linked before 0006 (a data migration)."""

from datetime import timedelta

from django.db import migrations, models

#: A host user joined within this long of its directory user was created with it.
CREATED_TOGETHER = timedelta(minutes=1)


def link_existing(apps, schema_editor):
    """Links made before ownership existed, conservatively:

    - staff and superusers are unlinked (no connection may touch them);
    - a host user the app created with its directory user (no usable password, joined
      within a minute of it, linked by that directory user only) is managed by its
      connection;
    - any other link (a person linked by email, perhaps by another tenant's IdP) keeps
      only its membership (docs/security.md)."""
    DirectoryUser = apps.get_model("scim_portal", "DirectoryUser")
    linked = DirectoryUser.objects.filter(host_user__isnull=False)
    counts = dict(
        linked.values("host_user").annotate(n=models.Count("id")).values_list("host_user", "n")
    )
    for user in linked.select_related("host_user").iterator():
        host = user.host_user
        if getattr(host, "is_staff", False) or getattr(host, "is_superuser", False):
            user.host_user, user.host_link = None, "blocked"
            user.save(update_fields=["host_user", "host_link"])
            continue
        joined = getattr(host, "date_joined", None)
        created_here = (
            counts.get(host.pk) == 1
            and str(getattr(host, "password", "")).startswith("!")
            and joined is not None
            and abs(joined - user.created) <= CREATED_TOGETHER
        )
        user.host_link = "managed" if created_here else "member"
        user.save(update_fields=["host_link"])
    # One link per host user and connection: later duplicates (two directory users of one
    # connection that were linked by the same email) are detached.
    seen = set()
    for user in linked.order_by("created", "id").iterator():
        key = (user.connection_id, user.host_user_id)
        if key in seen:
            user.host_user_id, user.host_link = None, ""
            user.save(update_fields=["host_user", "host_link"])
        seen.add(key)


class Migration(migrations.Migration):
    dependencies = [("scim_portal", "0006_tenant_safety")]

    operations = [migrations.RunPython(link_existing, migrations.RunPython.noop)]
