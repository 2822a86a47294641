# Indexes for the overview's users-and-groups chart (events by connection and time) and
# the staff dashboard's last 24 hours (request logs by time). On PostgreSQL they are built
# CONCURRENTLY: a large request log or event table keeps taking writes (the IdPs' pushes)
# while its index builds, so the migration runs outside a transaction. Interrupted, it
# can be run again (see AddIndexOnline).

from django.db import migrations, models

from scim_portal._migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("scim_portal", "0007_requestlog_source_ip"),
    ]

    operations = [
        AddIndexOnline(
            model_name="provisioningevent",
            index=models.Index(
                fields=["connection", "created_at"], name="scim_event_conn_time_idx"
            ),
        ),
        AddIndexOnline(
            model_name="requestlog",
            index=models.Index(fields=["created_at"], name="scim_log_time_idx"),
        ),
    ]
