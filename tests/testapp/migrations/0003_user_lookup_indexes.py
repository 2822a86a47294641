"""The host user lookups' indexes, as docs/integration.md tells a host to add them."""

from django.conf import settings
from django.db import migrations

from scim_portal.host_indexes import add_user_lookup_indexes, remove_user_lookup_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("testapp", "0002_organizationmembership"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(add_user_lookup_indexes, remove_user_lookup_indexes)]
