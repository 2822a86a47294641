# Credentials of several kinds, OAuth applications, codes and access tokens (issue 16).

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import scim_portal.models.credentials


class Migration(migrations.Migration):
    dependencies = [
        ("scim_portal", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="OAuthApplication",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                (
                    "client_id",
                    models.CharField(
                        default=scim_portal.models.credentials.new_application_client_id,
                        editable=False,
                        max_length=40,
                        unique=True,
                    ),
                ),
                ("secret_digest", models.CharField(editable=False, max_length=64)),
                ("secret_prefix", models.CharField(editable=False, max_length=15)),
                (
                    "redirect_uris",
                    models.TextField(
                        help_text="One URL per line, e.g. https://system-admin.okta.com/admin/app/cpc/yourapp/oauth/callback"
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, editable=False),
                ),
                ("revoked_at", models.DateTimeField(blank=True, editable=False, null=True)),
            ],
            options={
                "verbose_name": "OAuth application",
                "ordering": ("name",),
            },
        ),
        migrations.AddField(
            model_name="connection",
            name="access_token_lifetime",
            field=models.PositiveIntegerField(
                default=3600,
                help_text="Seconds an OAuth access token lives: 300 (5 minutes) to 21600 (6 hours).",
                validators=[
                    django.core.validators.MinValueValidator(300),
                    django.core.validators.MaxValueValidator(21600),
                ],
            ),
        ),
        migrations.AddField(
            model_name="connection",
            name="oauth_client_id",
            field=models.CharField(
                blank=True, editable=False, max_length=40, null=True, unique=True
            ),
        ),
        migrations.AddField(
            model_name="requestlog",
            name="credential_kind",
            field=models.CharField(blank=True, max_length=20),
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
                    ("credential.issued", "Credential Issued"),
                    ("credential.revoked", "Credential Revoked"),
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
        migrations.AlterField(
            model_name="requestlog",
            name="token_prefix",
            field=models.CharField(blank=True, max_length=40),
        ),
        # Bearer tokens become the first kind of credential; their rows stay as they are.
        migrations.RenameModel(old_name="ConnectionToken", new_name="Credential"),
        migrations.AddField(
            model_name="credential",
            name="kind",
            field=models.CharField(
                choices=[
                    ("bearer", "Bearer token"),
                    ("basic", "HTTP Basic"),
                    ("client_secret", "OAuth client secret"),
                    ("federated", "Federated JWT issuer"),
                    ("authorization", "OAuth authorisation"),
                ],
                default="bearer",
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="credential",
            name="connection",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="credentials",
                to="scim_portal.connection",
            ),
        ),
        migrations.AlterField(
            model_name="credential",
            name="digest",
            field=models.CharField(
                blank=True, editable=False, max_length=64, null=True, unique=True
            ),
        ),
        migrations.AlterField(
            model_name="credential",
            name="prefix",
            field=models.CharField(blank=True, editable=False, max_length=100),
        ),
        migrations.AddField(
            model_name="credential",
            name="username",
            field=models.CharField(
                blank=True, editable=False, max_length=40, null=True, unique=True
            ),
        ),
        migrations.AddField(
            model_name="credential",
            name="issuer",
            field=models.URLField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name="credential",
            name="subject",
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name="credential",
            name="audience",
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name="credential",
            name="jwks_url",
            field=models.URLField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name="credential",
            name="application",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="authorizations",
                to="scim_portal.oauthapplication",
            ),
        ),
        migrations.CreateModel(
            name="AccessToken",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("digest", models.CharField(max_length=64, unique=True)),
                ("prefix", models.CharField(max_length=15)),
                ("scope", models.CharField(blank=True, max_length=200)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("expires_at", models.DateTimeField()),
                (
                    "refresh_digest",
                    models.CharField(blank=True, max_length=64, null=True, unique=True),
                ),
                ("refresh_expires_at", models.DateTimeField(blank=True, null=True)),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                (
                    "credential",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="access_tokens",
                        to="scim_portal.credential",
                    ),
                ),
            ],
            options={
                "ordering": ("-created_at",),
            },
        ),
        migrations.CreateModel(
            name="AuthorizationCode",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("digest", models.CharField(max_length=64, unique=True)),
                ("redirect_uri", models.URLField(blank=True, max_length=500)),
                ("scope", models.CharField(blank=True, max_length=200)),
                ("code_challenge", models.CharField(blank=True, max_length=128)),
                ("code_challenge_method", models.CharField(blank=True, max_length=10)),
                ("expires_at", models.DateTimeField()),
                ("used_at", models.DateTimeField(blank=True, null=True)),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="scim_portal.connection",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "credential",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="scim_portal.credential",
                    ),
                ),
                (
                    "application",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="scim_portal.oauthapplication",
                    ),
                ),
            ],
            options={
                "verbose_name": "OAuth authorisation code",
            },
        ),
        migrations.AddIndex(
            model_name="accesstoken",
            index=models.Index(fields=["expires_at"], name="scim_access_token_expiry_idx"),
        ),
        migrations.AddIndex(
            model_name="credential",
            index=models.Index(fields=["connection", "kind"], name="scim_credential_kind_idx"),
        ),
        migrations.AddIndex(
            model_name="credential",
            index=models.Index(fields=["issuer", "subject"], name="scim_credential_issuer_idx"),
        ),
        migrations.AddConstraint(
            model_name="credential",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("digest__isnull", False),
                        ("kind__in", ["bearer", "basic", "client_secret"]),
                    ),
                    models.Q(
                        models.Q(("kind__in", ["bearer", "basic", "client_secret"]), _negated=True),
                        ("digest__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="scim_credential_secret_kinds",
            ),
        ),
        migrations.AddConstraint(
            model_name="credential",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "basic"), ("username__isnull", False)),
                    models.Q(
                        models.Q(("kind", "basic"), _negated=True), ("username__isnull", True)
                    ),
                    _connector="OR",
                ),
                name="scim_credential_basic_username",
            ),
        ),
    ]
