"""Vendor staff in Django admin: connections of any account, tokens shown once, support views."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from scim_portal.models import Connection, Credential, EnvironmentKey, ProvisioningEvent
from tests.factories import UserFactory
from tests.testapp.models import OrganizationMembership

pytestmark = pytest.mark.django_db
ADMIN = "/admin/scim_portal"


@pytest.fixture
def staff(db):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def field(page: str, element_id: str) -> str:
    """The value of the input ``element_id`` on an admin page."""
    match = re.search(rf'id="{element_id}"[^>]*value="([^"]*)"', page)
    assert match, page[:3000]
    return match[1]


def staff_with(*codenames):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="scim_portal", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client


def token_in(page: str) -> str:
    match = re.search(r'id="scim-token"[^>]*value="(scimp_[^"]+)"', page)
    assert match, page[:2000]
    return match[1]


def test_add_connection_for_any_account_shows_the_token_once(staff, setup):
    response = staff.post(f"{ADMIN}/connection/add/", {
        "account": setup["account"].pk, "name": "Added by staff", "provider": "okta",
    })  # fmt: skip
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    token = token_in(page)
    assert "shown only once" in page
    connection = Connection.objects.get(name="Added by staff")
    assert Credential.objects.by_value(token).connection == connection
    change = staff.get(f"{ADMIN}/connection/{connection.pk}/change/").content.decode()
    assert token not in change and token[:14] in change  # the prefix, never the value


def test_changelist_shows_status_and_counts_and_searches(staff, setup):
    page = staff.get(f"{ADMIN}/connection/").content.decode()
    assert "Okta" in page and "Theirs" in page and "Failing" in page  # latest request was a 401
    found = staff.get(f"{ADMIN}/connection/", {"q": "globex"}).content.decode()
    assert "Theirs" in found and "result" in found


def test_issue_and_revoke_credentials_in_admin(staff, setup):
    connection, old = setup["connection"], setup["token"]
    response = staff.post(f"{ADMIN}/connection/{connection.pk}/issue-token/", {"label": "staff"})
    new = token_in(response.content.decode())
    assert Credential.objects.by_value(new) is not None
    assert "no-store" in response["Cache-Control"]  # shown once, never cached
    confirm = staff.get(f"{ADMIN}/connection/{connection.pk}/credentials/{old.pk}/revoke/")
    assert "Yes, revoke it" in confirm.content.decode()
    staff.post(f"{ADMIN}/connection/{connection.pk}/credentials/{old.pk}/revoke/")
    assert not Credential.objects.get(pk=old.pk).is_usable


def test_change_settings_through_the_service(staff, setup):
    connection = setup["connection"]
    staff.post(f"{ADMIN}/connection/{connection.pk}/change/", {
        "name": "Okta renamed", "link_policy": "always_create", "deprovision_policy": "remove",
        "out_of_domain_policy": "reject", "default_role": "viewer",
        "brake_enabled": "on", "brake_percent": "20", "brake_minimum": "25",
        "credentials-TOTAL_FORMS": "1", "credentials-INITIAL_FORMS": "1",
        "credentials-MIN_NUM_FORMS": "0", "credentials-MAX_NUM_FORMS": "1000",
        "credentials-0-id": setup["token"].pk, "credentials-0-connection": connection.pk,
    })  # fmt: skip
    connection.refresh_from_db()
    assert (connection.name, connection.default_role) == ("Okta renamed", "viewer")
    assert connection.out_of_domain_policy == "reject"
    event = ProvisioningEvent.objects.get(connection=connection, type="connection.updated")
    assert event.changes["out_of_domain_policy"] == {"old": "flag", "new": "reject"}
    assert event.changes["brake_percent"] == {"old": 10, "new": 20}
    assert "brake_minimum" not in event.changes
    assert event.actor["via"] == "admin" and event.actor["staff"] is True
    host = setup["user"].host_user
    assert OrganizationMembership.objects.get(user=host).role == "viewer"


@pytest.mark.parametrize(("checked", "active_after"), [(True, False), (False, True)])
def test_delete_asks_what_to_do_with_the_directory(staff, setup, checked, active_after):
    connection = setup["connection"]
    page = staff.get(f"{ADMIN}/connection/{connection.pk}/delete/").content.decode()
    assert "<strong>1 user</strong>" in page and "<strong>1 group</strong>" in page
    assert re.search(r'name="remove_directory" checked', page)
    response = staff.post(
        f"{ADMIN}/connection/{connection.pk}/delete/", {"remove_directory": "on"} if checked else {}
    )
    assert response.status_code == 302
    assert not Connection.objects.filter(pk=connection.pk).exists()
    host = setup["user"].host_user
    host.refresh_from_db()
    assert host.is_active is active_after


def test_staff_see_only_what_their_permissions_allow(setup):
    viewer = staff_with("view_connection")
    connection = setup["connection"]
    assert viewer.get(f"{ADMIN}/connection/").status_code == 200
    assert viewer.get(f"{ADMIN}/connection/add/").status_code == 403
    assert viewer.post(f"{ADMIN}/connection/{connection.pk}/issue-token/").status_code == 403
    assert viewer.post(f"{ADMIN}/connection/{connection.pk}/delete/").status_code == 403
    token = setup["token"]
    assert (
        viewer.post(
            f"{ADMIN}/connection/{connection.pk}/credentials/{token.pk}/revoke/"
        ).status_code
        == 403
    )
    nobody = staff_with()
    assert nobody.get(f"{ADMIN}/connection/").status_code == 403
    assert nobody.get(f"{ADMIN}/requestlog/").status_code == 403


def test_environment_key_is_shown_once_and_revocable(staff):
    response = staff.post(f"{ADMIN}/environmentkey/add/", {"name": "Terraform"})
    raw = re.search(r'value="(scimpenv_[^"]+)"', response.content.decode())[1]
    assert "no-store" in response["Cache-Control"]
    key = EnvironmentKey.objects.by_value(raw)
    assert key.name == "Terraform" and raw not in str(EnvironmentKey.objects.values_list())
    listing = staff.get(f"{ADMIN}/environmentkey/").content.decode()
    assert raw not in listing and key.prefix in listing
    staff.post(f"{ADMIN}/environmentkey/", {"action": "revoke_keys", "_selected_action": [key.pk]})
    assert EnvironmentKey.objects.by_value(raw) is None


def test_support_views_are_read_only_and_searchable(staff, setup):
    from scim_portal.provisioning import directory

    connection = setup["connection"]
    directory.create_user(connection, {"userName": "zed@example.com"})
    directory.create_group(connection, {"displayName": "Sales"})
    for model, query, match, other in [
        ("directoryuser", "ada", "ada@example.com", "zed@example.com"),
        ("directorygroup", "Eng", ">Eng<", ">Sales<"),
        (
            "provisioningevent",
            str(setup["user"].pk),
            '<td class="field-type">User Created',
            '<td class="field-type">Group Created',
        ),
    ]:
        page = staff.get(f"{ADMIN}/{model}/", {"q": query}).content.decode()
        assert match in page and other not in page, model
        assert staff.get(f"{ADMIN}/{model}/add/").status_code == 403
    assert staff.get(f"{ADMIN}/requestlog/", {"q": "/Users"}).status_code == 200


def test_request_logs_filter_by_status_class(staff, setup):
    def statuses(status_class):
        page = staff.get(f"{ADMIN}/requestlog/", {"status_class": status_class}).content.decode()
        # The rows' status cells (a "401" elsewhere on the page, in an id, is no row).
        return re.findall(r'<td class="field-status">([^<]*)</td>', page)

    assert statuses("4") == ["401"]
    assert all(status.startswith("2") for status in statuses("2"))


def test_request_logs_filter_by_connection_even_after_deletion(staff, setup):
    connection_id = setup["connection"].pk
    page = staff.get(f"{ADMIN}/requestlog/", {"connection_id": str(connection_id)})
    assert "401" in page.content.decode()
    staff.post(f"{ADMIN}/connection/{connection_id}/delete/", {"remove_directory": "on"})
    after = staff.get(f"{ADMIN}/requestlog/", {"connection_id": str(connection_id)})
    assert after.status_code == 200 and "401" in after.content.decode()
    assert staff.get(f"{ADMIN}/requestlog/", {"connection_id": "junk"}).status_code == 200


def test_environment_key_changes_are_audited(staff, caplog):
    import logging

    from django.contrib.admin.models import CHANGE, LogEntry

    with caplog.at_level(logging.INFO, logger="scim_portal.admin"):
        response = staff.post(f"{ADMIN}/environmentkey/add/", {"name": "Terraform"})
        raw = re.search(r'value="(scimpenv_[^"]+)"', response.content.decode())[1]
        key = EnvironmentKey.objects.get()
        staff.post(
            f"{ADMIN}/environmentkey/", {"action": "revoke_keys", "_selected_action": [key.pk]}
        )
    assert "'Terraform' (" in caplog.text and "issued by" in caplog.text
    assert "revoked by" in caplog.text and raw not in caplog.text
    assert LogEntry.objects.filter(object_id=str(key.pk), action_flag=CHANGE).exists()
