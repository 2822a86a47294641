# Indexes for the overview's users-and-groups chart (events by connection and time) and
# the staff dashboard's last 24 hours (request logs by time).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scim_portal", "0007_requestlog_source_ip"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="provisioningevent",
            index=models.Index(
                fields=["connection", "created_at"], name="scim_event_conn_time_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="requestlog",
            index=models.Index(fields=["created_at"], name="scim_log_time_idx"),
        ),
    ]
