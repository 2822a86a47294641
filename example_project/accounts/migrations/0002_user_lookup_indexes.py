"""Indexes for the SCIM adapter's case-insensitive username and email lookups
(scim_portal.host_indexes): without them every SCIM create scans the user table."""

from django.conf import settings
from django.db import migrations

from scim_portal.host_indexes import add_user_lookup_indexes, remove_user_lookup_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(add_user_lookup_indexes, remove_user_lookup_indexes)]
