"""Ownership of host users linked before 0006 (a data migration)."""

from django.db import migrations, models


def link_existing(apps, schema_editor):
    """Links made before ownership existed: a host user the app created (no usable
    password, linked by one directory user only, not staff) is managed by that
    connection; any other link keeps only its membership (docs/security.md)."""
    DirectoryUser = apps.get_model("scim_portal", "DirectoryUser")
    linked = DirectoryUser.objects.filter(host_user__isnull=False)
    counts = dict(
        linked.values("host_user").annotate(n=models.Count("id")).values_list("host_user", "n")
    )
    for user in linked.select_related("host_user").iterator():
        host = user.host_user
        created_here = (
            counts.get(host.pk) == 1
            and not getattr(host, "is_staff", False)
            and not getattr(host, "is_superuser", False)
            and str(getattr(host, "password", "")).startswith("!")
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
