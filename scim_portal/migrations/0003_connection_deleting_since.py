# When a connection's deletion began: a half-deleted connection takes no new credential.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scim_portal", "0002_credentials"),
    ]

    operations = [
        migrations.AddField(
            model_name="connection",
            name="deleting_since",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
    ]
