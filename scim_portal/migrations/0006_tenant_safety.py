# The account foreign key follows settings.SCIM_PORTAL_ACCOUNT_MODEL (the host's tenant model).

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.SCIM_PORTAL_ACCOUNT_MODEL),
        ("scim_portal", "0005_cheaper_default_ordering"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AccountDomain",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("domain", models.CharField(max_length=253)),
                ("verification_token", models.CharField(editable=False, max_length=64)),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, editable=False),
                ),
                ("verified_at", models.DateTimeField(blank=True, editable=False, null=True)),
                (
                    "verification_method",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("dns", "DNS TXT record"),
                            ("staff", "Marked verified by vendor staff"),
                        ],
                        editable=False,
                        max_length=10,
                    ),
                ),
                ("last_checked_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("last_check_error", models.CharField(blank=True, editable=False, max_length=500)),
            ],
            options={
                "ordering": ("domain",),
            },
        ),
        migrations.AddField(
            model_name="connection",
            name="out_of_domain_policy",
            field=models.CharField(
                choices=[
                    ("accept", "Accept"),
                    ("flag", "Accept, and flag it in the request log and user list"),
                    ("reject", "Reject it (the identity provider gets an error)"),
                ],
                default="flag",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="directoryuser",
            name="awaited_user",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="directoryuser",
            name="host_link",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "Not linked"),
                    ("managed", "Managed by this connection"),
                    ("member", "Linked (membership only)"),
                    ("awaiting", "Awaiting the person"),
                    ("blocked", "Not linked: protected account"),
                ],
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="requestlog",
            name="warning",
            field=models.TextField(blank=True),
        ),
        migrations.AlterField(
            model_name="provisioningevent",
            name="connection",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="events",
                to="scim_portal.connection",
            ),
        ),
        migrations.AlterField(
            model_name="provisioningevent",
            name="number",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="provisioningevent",
            name="type",
            field=models.CharField(
                choices=[
                    ("user.created", "User Created"),
                    ("user.updated", "User Updated"),
                    ("user.deactivated", "User Deactivated"),
                    ("user.reactivated", "User Reactivated"),
                    ("user.deleted", "User Deleted"),
                    ("group.created", "Group Created"),
                    ("group.updated", "Group Updated"),
                    ("group.deleted", "Group Deleted"),
                    ("group.members_added", "Group Members Added"),
                    ("group.members_removed", "Group Members Removed"),
                    ("roles.changed", "Roles Changed"),
                    ("connection.created", "Connection Created"),
                    ("connection.deleted", "Connection Deleted"),
                    ("token.issued", "Token Issued"),
                    ("token.revoked", "Token Revoked"),
                    ("user.linked", "User Linked"),
                    ("connection.updated", "Connection Updated"),
                    ("role_mapping.set", "Role Mapping Set"),
                    ("role_mapping.removed", "Role Mapping Removed"),
                    ("domain.added", "Domain Added"),
                    ("domain.verified", "Domain Verified"),
                    ("domain.removed", "Domain Removed"),
                ],
                max_length=40,
            ),
        ),
        migrations.AddField(
            model_name="accountdomain",
            name="account",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="scim_domains",
                to=settings.SCIM_PORTAL_ACCOUNT_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="accountdomain",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="accountdomain",
            name="verified_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="accountdomain",
            constraint=models.UniqueConstraint(
                fields=("account", "domain"), name="scim_domain_account_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="accountdomain",
            constraint=models.UniqueConstraint(
                condition=models.Q(("verified_at__isnull", False)),
                fields=("domain",),
                name="scim_domain_verified_once",
            ),
        ),
    ]
