# userName and displayName compare through folded key columns (Unicode case folding in
# Python) instead of LOWER(), which is ASCII-only in SQLite and PostgreSQL's C locale.
# Multi-valued items' value_key is folded the same way.

import unicodedata

from django.db import migrations, models
from django.db.models import Count

import scim_portal.models.folding

BATCH = 1000
VALUE_KEY_LENGTH = 255


def fold(text):
    """scim_portal.models.folding.fold as of this migration."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).casefold())


def lower_value_key(value):
    """value_key before this migration."""
    key = str(value).lower() if value is not None else None
    return key if key and len(key) <= VALUE_KEY_LENGTH else None


def folded_value_key(value):
    key = fold(str(value)) if value is not None else None
    return key if key and len(key) <= VALUE_KEY_LENGTH else None


def _update(model, read, written, compute):
    """Set ``written`` fields of every row of ``model`` by ``compute(row)``, in batches."""
    rows = model.objects.only("pk", *read).order_by("pk").iterator(chunk_size=BATCH)
    batch = []
    for row in rows:
        compute(row)
        batch.append(row)
        if len(batch) == BATCH:
            model.objects.bulk_update(batch, written)
            batch = []
    model.objects.bulk_update(batch, written)


def _refuse_duplicates(model, key, name):
    duplicates = list(
        model.objects.values("connection_id", key)
        .annotate(count=Count("pk"))
        .filter(count__gt=1)
        .order_by("connection_id", key)[:20]
    )
    if not duplicates:
        return
    clashes = []
    for duplicate in duplicates:
        rows = model.objects.filter(
            connection_id=duplicate["connection_id"], **{key: duplicate[key]}
        )
        spellings = ", ".join(repr(getattr(row, name)) for row in rows.only(name))
        clashes.append(f"connection {duplicate['connection_id']}: {spellings}")
    raise RuntimeError(
        f"Some {model._meta.verbose_name_plural} of one connection have names that are equal "
        f"ignoring case (Unicode case folding), which older versions let through on SQLite "
        f"and PostgreSQL's C locale: {'; '.join(clashes)}. Delete or rename all but one of "
        f"each (in the identity provider, the portal or the admin), then migrate again."
    )


def fill_keys(apps, schema_editor):
    DirectoryUser = apps.get_model("scim_portal", "DirectoryUser")
    DirectoryGroup = apps.get_model("scim_portal", "DirectoryGroup")
    DirectoryUserValue = apps.get_model("scim_portal", "DirectoryUserValue")

    def user(row):
        row.user_name_key = fold(row.user_name)
        row.display_name_key = fold(row.display_name)

    def group(row):
        row.display_name_key = fold(row.display_name)

    def value(row):
        row.value_key = folded_value_key((row.item or {}).get("value"))

    _update(
        DirectoryUser, ["user_name", "display_name"], ["user_name_key", "display_name_key"], user
    )
    _update(DirectoryGroup, ["display_name"], ["display_name_key"], group)
    _update(DirectoryUserValue, ["item"], ["value_key"], value)
    _refuse_duplicates(DirectoryUser, "user_name_key", "user_name")
    _refuse_duplicates(DirectoryGroup, "display_name_key", "display_name")


def restore_value_keys(apps, schema_editor):
    DirectoryUserValue = apps.get_model("scim_portal", "DirectoryUserValue")

    def value(row):
        row.value_key = lower_value_key((row.item or {}).get("value"))

    _update(DirectoryUserValue, ["item"], ["value_key"], value)


class Migration(migrations.Migration):
    dependencies = [
        ("scim_portal", "0009_link_policy_labels"),
    ]

    operations = [
        migrations.AddField(
            model_name="directoryuser",
            name="user_name_key",
            field=scim_portal.models.folding.FoldedKeyField(
                default="", max_length=765, source="user_name"
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="directoryuser",
            name="display_name_key",
            field=scim_portal.models.folding.FoldedKeyField(
                blank=True, default="", max_length=765, source="display_name"
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="directorygroup",
            name="display_name_key",
            field=scim_portal.models.folding.FoldedKeyField(
                default="", max_length=765, source="display_name"
            ),
            preserve_default=False,
        ),
        migrations.RunPython(fill_keys, restore_value_keys, elidable=False),
        migrations.RemoveConstraint(
            model_name="directoryuser",
            name="scim_user_username_ci_unique",
        ),
        migrations.RemoveConstraint(
            model_name="directorygroup",
            name="scim_group_dispname_ci_unique",
        ),
        migrations.RemoveIndex(
            model_name="directoryuser",
            name="scim_user_dispname_idx",
        ),
        migrations.AddConstraint(
            model_name="directoryuser",
            constraint=models.UniqueConstraint(
                fields=("connection", "user_name_key"), name="scim_user_name_key_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="directorygroup",
            constraint=models.UniqueConstraint(
                fields=("connection", "display_name_key"), name="scim_group_name_key_unique"
            ),
        ),
        migrations.AddIndex(
            model_name="directoryuser",
            index=models.Index(
                fields=["connection", "display_name_key"], name="scim_user_dispkey_idx"
            ),
        ),
    ]
