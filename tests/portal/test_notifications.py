"""The Notifications page of the Provisioning tab: one's own emails, and each connection's
silent threshold."""

import html
import logging

import pytest
from django.test import Client

from scim_portal.models import NotificationKind, NotificationOptOut, ProvisioningEvent
from tests.conftest import grant
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PAGE = "/provisioning/acme/notifications/"
EVERY_KIND = set(NotificationKind.values)


def client_for(setup, who):
    client = Client()
    client.force_login(setup["people"][who])
    return client


def page_of(client):
    response = client.get(PAGE)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _box(page, kind):
    start = page.index(f'name="receive" value="{kind}"')
    return page[page.rindex("<input", 0, start) : page.index(">", start) + 1]


def opt_outs(user, account):
    return set(
        NotificationOptOut.objects.filter(user=user, account=account).values_list("kind", flat=True)
    )


def test_the_connection_list_links_to_the_page(setup):
    listing = client_for(setup, "auditor").get("/provisioning/acme/").content.decode()
    assert f'href="{PAGE}"' in listing


def test_a_reader_sees_every_email_ticked_and_the_thresholds_read_only(setup):
    page = page_of(client_for(setup, "auditor"))

    assert "Your emails" in page
    for kind in EVERY_KIND:
        assert _box(page, kind).endswith("checked>"), kind
    assert "Okta" in page and "48 hours" in page and "(default)" in page
    assert 'name="form" value="threshold"' not in page
    assert "Theirs" not in page  # another account's connection


def test_a_reader_chooses_their_own_emails(setup, caplog):
    auditor, admin = setup["people"]["auditor"], setup["people"]["admin"]
    client = client_for(setup, "auditor")
    caplog.set_level(logging.INFO, logger="scim_portal.audit")

    response = client.post(
        PAGE, {"form": "emails", "receive": [NotificationKind.CONNECTION_FAILING]}
    )

    assert response.status_code == 302 and response["Location"] == PAGE
    off = EVERY_KIND - {NotificationKind.CONNECTION_FAILING}
    assert opt_outs(auditor, setup["account"]) == off
    assert opt_outs(admin, setup["account"]) == set()  # nobody else's
    page = page_of(client)
    assert _box(page, NotificationKind.CONNECTION_FAILING).endswith("checked>")
    assert not _box(page, NotificationKind.CONNECTION_SILENT).endswith("checked>")
    [record] = [r for r in caplog.records if r.name == "scim_portal.audit"]
    assert "auditor" in record.getMessage() and "acme" in record.getMessage()

    client.post(PAGE, {"form": "emails", "receive": sorted(EVERY_KIND)})
    assert opt_outs(auditor, setup["account"]) == set()


def test_opting_out_in_one_account_leaves_the_other_alone(setup):
    """A person reading two accounts chooses per account."""
    auditor = setup["people"]["auditor"]
    other_account = setup["other_connection"].account
    grant(auditor, other_account, "read_provisioning")
    NotificationOptOut.objects.create(
        user=auditor, account=other_account, kind=NotificationKind.CONNECTION_SILENT
    )

    client_for(setup, "auditor").post(PAGE, {"form": "emails", "receive": []})

    assert opt_outs(auditor, setup["account"]) == EVERY_KIND
    assert opt_outs(auditor, other_account) == {NotificationKind.CONNECTION_SILENT}


def test_an_unknown_kind_is_refused(setup):
    response = client_for(setup, "auditor").post(PAGE, {"form": "emails", "receive": ["spam"]})
    assert response.status_code == 400
    assert "Select a valid choice" in html.unescape(response.content.decode())
    assert not NotificationOptOut.objects.exists()


def test_a_creator_sets_a_connections_silent_threshold(setup):
    connection = setup["connection"]
    client = client_for(setup, "admin")
    field = f"{connection.pk}-silent_after_hours"
    assert f'name="{field}"' in page_of(client)

    response = client.post(
        PAGE, {"form": "threshold", "connection": str(connection.pk), field: "72"}
    )

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.silent_after_hours == 72
    event = ProvisioningEvent.objects.filter(type="connection.updated").latest("number")
    assert event.changes["silent_after_hours"] == {"old": None, "new": 72}
    assert event.actor["via"] == "portal" and event.actor_user == setup["people"]["admin"]
    assert 'value="72"' in page_of(client)

    client.post(PAGE, {"form": "threshold", "connection": str(connection.pk), field: ""})
    connection.refresh_from_db()
    assert connection.silent_after_hours is None


def test_an_invalid_threshold_is_refused_with_its_reason(setup):
    connection = setup["connection"]
    field = f"{connection.pk}-silent_after_hours"

    response = client_for(setup, "admin").post(
        PAGE, {"form": "threshold", "connection": str(connection.pk), field: "0"}
    )

    assert response.status_code == 400
    assert "greater than or equal to 1" in html.unescape(response.content.decode())
    connection.refresh_from_db()
    assert connection.silent_after_hours is None


def test_a_reader_cannot_change_a_threshold(setup):
    connection = setup["connection"]
    field = f"{connection.pk}-silent_after_hours"

    response = client_for(setup, "auditor").post(
        PAGE, {"form": "threshold", "connection": str(connection.pk), field: "5"}
    )

    assert response.status_code == 403
    connection.refresh_from_db()
    assert connection.silent_after_hours is None


def test_another_accounts_connection_is_404(setup):
    other = setup["other_connection"]
    field = f"{other.pk}-silent_after_hours"
    client = client_for(setup, "admin")

    for value in (str(other.pk), "not-a-uuid"):
        response = client.post(PAGE, {"form": "threshold", "connection": value, field: "5"})
        assert response.status_code == 404
    other.refresh_from_db()
    assert other.silent_after_hours is None


def test_people_without_read_on_the_account_get_403(setup):
    for who in ("member", "other_admin"):
        client = client_for(setup, who)
        assert client.get(PAGE).status_code == 403, who
        assert client.post(PAGE, {"form": "emails", "receive": []}).status_code == 403, who
    assert not NotificationOptOut.objects.exists()
    creator = Client()
    creator.force_login(grant(UserFactory(), setup["account"], "create_provisioning"))
    assert creator.get(PAGE).status_code == 403


def test_anonymous_people_are_sent_to_log_in(setup):
    response = Client().get(PAGE)
    assert response.status_code == 302 and "login" in response["Location"]


def test_every_form_needs_csrf(setup):
    connection = setup["connection"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(setup["people"]["admin"])

    field = f"{connection.pk}-silent_after_hours"
    threshold = {"form": "threshold", "connection": str(connection.pk), field: "5"}
    assert client.post(PAGE, {"form": "emails", "receive": []}).status_code == 403
    assert client.post(PAGE, threshold).status_code == 403
    assert not NotificationOptOut.objects.exists()
    connection.refresh_from_db()
    assert connection.silent_after_hours is None


def test_someone_without_an_email_address_is_told_they_get_none(setup):
    auditor = setup["people"]["auditor"]
    auditor.email = ""
    auditor.save()
    assert "you receive none of these emails" in page_of(client_for(setup, "auditor"))
