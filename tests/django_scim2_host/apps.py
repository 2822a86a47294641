from django.apps import AppConfig


class HostConfig(AppConfig):
    name = "tests.django_scim2_host"
    label = "scim2host"
    default_auto_field = "django.db.models.BigAutoField"
