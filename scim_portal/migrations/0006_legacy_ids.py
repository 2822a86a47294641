# Ids another service provider served, kept by an import (scim_portal import-django-scim2)
# so identity providers' stored ids keep working; and which import filled a connection.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scim_portal", "0005_safe_deprovisioning"),
    ]

    operations = [
        migrations.AddField(
            model_name="connection",
            name="imported_from",
            field=models.CharField(blank=True, editable=False, max_length=40),
        ),
        migrations.AddField(
            model_name="directorygroup",
            name="legacy_id",
            field=models.CharField(blank=True, max_length=255, null=True),
        ),
        migrations.AddField(
            model_name="directoryuser",
            name="legacy_id",
            field=models.CharField(blank=True, max_length=255, null=True),
        ),
        migrations.AddConstraint(
            model_name="directorygroup",
            constraint=models.UniqueConstraint(
                condition=models.Q(("legacy_id__isnull", False)),
                fields=("connection", "legacy_id"),
                name="scim_group_legacy_id_unique",
            ),
        ),
        migrations.AddConstraint(
            model_name="directoryuser",
            constraint=models.UniqueConstraint(
                condition=models.Q(("legacy_id__isnull", False)),
                fields=("connection", "legacy_id"),
                name="scim_user_legacy_id_unique",
            ),
        ),
    ]
