"""System checks of event delivery: what an operator is told at deploy time."""

from scim_portal import checks


def test_a_backend_running_tasks_inside_the_request_is_warned_of(settings):
    assert checks.check_task_backend() == []
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    assert [message.id for message in checks.check_task_backend()] == ["scim_portal.W009"]


def test_a_task_backend_alias_missing_from_tasks_is_an_error(settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "TASK_BACKEND": "nowhere"}
    assert [message.id for message in checks.check_task_backend()] == ["scim_portal.E007"]


def test_insecure_webhooks_outside_debug_are_warned_of(settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "WEBHOOK_ALLOW_INSECURE": True}
    settings.DEBUG = False
    assert [message.id for message in checks.check_webhook_addresses()] == ["scim_portal.W008"]
    settings.DEBUG = True
    assert checks.check_webhook_addresses() == []
