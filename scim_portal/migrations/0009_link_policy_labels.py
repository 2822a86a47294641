# The link policy labels say what the ownership rules allow (no schema change).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scim_portal", "0008_one_manager_per_host_user"),
    ]

    operations = [
        migrations.AlterField(
            model_name="connection",
            name="link_policy",
            field=models.CharField(
                choices=[
                    ("verified_email", "Claim the existing user on a verified domain, else create"),
                    ("always_create", "Create a new user; never claim an existing one"),
                    ("never", "Do not create or link users (directory only)"),
                ],
                default="verified_email",
                max_length=20,
            ),
        ),
    ]
