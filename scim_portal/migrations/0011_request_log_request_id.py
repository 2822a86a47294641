# The request id of each request-log row.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scim_portal", "0010_unicode_folded_keys"),
    ]

    operations = [
        migrations.AddField(
            model_name="requestlog",
            name="request_id",
            field=models.CharField(blank=True, max_length=128),
        ),
    ]
