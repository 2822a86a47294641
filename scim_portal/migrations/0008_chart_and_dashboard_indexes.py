# Indexes for the overview's users-and-groups chart (events by connection and time) and
# the staff dashboard's last 24 hours (request logs by time). On PostgreSQL they are built
# CONCURRENTLY: a large request log or event table keeps taking writes (the IdPs' pushes)
# while its index builds, so the migration runs outside a transaction.

from django.db import migrations, models


class AddIndexOnline(migrations.AddIndex):
    """``AddIndex``, built with ``CREATE INDEX CONCURRENTLY`` on PostgreSQL (the same
    index elsewhere). Should a concurrent build fail, PostgreSQL keeps an invalid index of
    that name: drop it, then migrate again."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, concurrently=True)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, concurrently=True)


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
