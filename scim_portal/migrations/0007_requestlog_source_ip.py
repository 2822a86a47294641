# The client's address of each logged request, as the host's proxies tell it
# (SCIM_PORTAL["TRUSTED_PROXY_COUNT"]); older rows have none.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scim_portal", "0006_legacy_ids"),
    ]

    operations = [
        migrations.AddField(
            model_name="requestlog",
            name="source_ip",
            field=models.GenericIPAddressField(blank=True, null=True),
        ),
    ]
