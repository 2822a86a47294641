from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("scim_portal", "0007_link_existing_users")]

    operations = [
        migrations.AddConstraint(
            model_name="directoryuser",
            constraint=models.UniqueConstraint(
                condition=models.Q(("host_link", "managed")),
                fields=("host_user",),
                name="scim_user_one_manager",
            ),
        ),
        migrations.AddConstraint(
            model_name="directoryuser",
            constraint=models.UniqueConstraint(
                condition=models.Q(("host_user__isnull", False)),
                fields=("connection", "host_user"),
                name="scim_user_host_once_per_conn",
            ),
        ),
    ]
