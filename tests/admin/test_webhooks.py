"""Vendor staff manage webhook endpoints in Django admin: the secret once, rotation with
overlap, test events, pause and resume, replay, the delivery log, and who may do what."""

import re

import pytest
from django.test import Client
from standardwebhooks.webhooks import Webhook

from scim_portal.delivery import endpoints
from scim_portal.models import DeliveryAttempt, EndpointSecret, WebhookEndpoint
from tests.admin.test_admin import field, staff_with
from tests.delivery.conftest import run_tasks
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ADMIN = "/admin/scim_portal/webhookendpoint"


def add(staff, url, **data):
    form = {"url": url, "format": "standard-webhooks", "method": "push", "description": ""}
    return staff.post(f"{ADMIN}/add/", {**form, **data})


def user(name):
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}


def write_users(scim, capture, names):
    for name in names:
        with capture(execute=True):
            assert scim.post("/Users", user(name)).status_code == 201


def test_add_shows_the_secret_once_then_only_its_prefix(staff, setup, insecure, receiver):
    form = staff.get(f"{ADMIN}/add/").content.decode()
    for event_type in ("user.created", "group.members_added", "domain.verified"):
        assert f'type="checkbox" name="event_types" value="{event_type}"' in form
    response = add(
        staff, receiver.url, account=setup["account"].pk, event_types=["user.created"],
        description="billing seats",
    )  # fmt: skip
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    page = response.content.decode()
    secret = field(page, "endpoint-secret")
    assert secret.startswith("whsec_") and "shown only once" in page
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.account, endpoint.event_types, endpoint.created_by.username) == (
        receiver.url, setup["account"], ["user.created"], "vendor",
    )  # fmt: skip
    # The secret signs what the endpoint is sent.
    endpoints.send_test(endpoint)
    (sent,) = receiver.received
    assert Webhook(secret).verify(sent.body, sent.headers)["type"] == "webhook.test"
    prefix = EndpointSecret.objects.get().prefix
    for url in (f"{ADMIN}/{endpoint.pk}/change/", f"{ADMIN}/"):
        shown = staff.get(url).content.decode()
        assert secret not in shown
    assert f"{prefix}…" in staff.get(f"{ADMIN}/{endpoint.pk}/change/").content.decode()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://10.0.0.1/x", "10.0.0.1 is not a public address."),
        ("http://hooks.example.com/x", "http://hooks.example.com/x is not an https URL."),
        ("https://localhost/x", "Endpoints may not be on this machine (localhost)."),
        ("not a url", "Enter a valid URL."),
    ],
)
def test_a_refused_url_is_a_form_error(staff, url, reason):
    response = add(staff, url)
    assert response.status_code == 200
    errors = re.findall(
        r'<ul class="errorlist[^"]*"[^>]*><li>(.*?)</li>', response.content.decode()
    )
    assert reason in errors
    assert not WebhookEndpoint.objects.exists()


def test_changing_the_url_is_checked_the_same_way(staff):
    endpoint, _ = endpoints.add_endpoint(url="https://hooks.example.com/in")
    change = f"{ADMIN}/{endpoint.pk}/change/"
    streams = {"streams-TOTAL_FORMS": "0", "streams-INITIAL_FORMS": "0"}
    response = staff.post(
        change, {**streams, "url": "https://169.254.169.254/latest", "description": ""}
    )
    assert "169.254.169.254 is not a public address." in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/in"
    response = staff.post(
        change,
        {**streams, "url": "https://hooks.example.com/v2", "event_types": ["user.deleted"]},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.event_types) == (
        "https://hooks.example.com/v2",
        ["user.deleted"],
    )


def test_rotate_keeps_the_old_secret_signing_through_the_overlap(staff, insecure, receiver):
    endpoint, first = endpoints.add_endpoint(url=receiver.url)
    form = staff.get(f"{ADMIN}/{endpoint.pk}/rotate-secret/").content.decode()
    assert 'name="overlap_hours"' in form and 'value="24' in form
    response = staff.post(f"{ADMIN}/{endpoint.pk}/rotate-secret/", {"overlap_hours": "12"})
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    second = field(page, "endpoint-secret")
    assert second != first.raw and f"{first.secret.prefix}…" in page
    staff.post(f"{ADMIN}/{endpoint.pk}/send-test/")
    (sent,) = receiver.received
    assert len(sent.headers["webhook-signature"].split()) == 2
    for secret in (first.raw, second):
        assert Webhook(secret).verify(sent.body, sent.headers)["type"] == "webhook.test"
    change = staff.get(f"{ADMIN}/{endpoint.pk}/change/").content.decode()
    assert first.raw not in change and second not in change
    assert change.count("active") >= 2 and "until" in change


def test_rotate_with_no_overlap_ends_the_old_secret_now(staff, insecure, receiver):
    endpoint, first = endpoints.add_endpoint(url=receiver.url)
    page = staff.post(f"{ADMIN}/{endpoint.pk}/rotate-secret/", {"overlap_hours": "0"})
    second = field(page.content.decode(), "endpoint-secret")
    endpoints.send_test(endpoint)
    (sent,) = receiver.received
    assert Webhook(second).verify(sent.body, sent.headers)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(first.raw).verify(sent.body, sent.headers)


def test_send_test_shows_the_logged_outcome(staff, insecure, receiver):
    receiver.answer = lambda item: (418, b"short and stout")
    endpoint, _ = endpoints.add_endpoint(url=receiver.url)
    confirm = staff.get(f"{ADMIN}/{endpoint.pk}/send-test/").content.decode()
    assert "csrfmiddlewaretoken" in confirm and not receiver.received
    page = staff.post(f"{ADMIN}/{endpoint.pk}/send-test/").content.decode()
    assert "not accepted" in page and "418" in page and "short and stout" in page
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.outcome, attempt.status_code) == ("test", 418)


def test_pause_stops_deliveries_and_resume_delivers_what_waited(
    staff, scim, insecure, receiver, django_capture_on_commit_callbacks
):
    endpoint, _ = endpoints.add_endpoint(url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        assert staff.post(f"{ADMIN}/{endpoint.pk}/pause/").status_code == 302
    write_users(scim, django_capture_on_commit_callbacks, ["ada", "bob"])
    run_tasks()
    assert receiver.received == []
    change = staff.get(f"{ADMIN}/{endpoint.pk}/change/").content.decode()
    assert "Paused" in change and f"{ADMIN}/{endpoint.pk}/resume/" in change
    with django_capture_on_commit_callbacks(execute=True):
        assert staff.post(f"{ADMIN}/{endpoint.pk}/resume/").status_code == 302
    run_tasks()
    names = [item.json["data"]["changes"]["userName"] for item in receiver.applied_in_order()]
    assert names == ["ada", "bob"]


def test_replay_from_n_delivers_n_onwards_again_in_order(
    staff, scim, insecure, receiver, django_capture_on_commit_callbacks
):
    endpoint, _ = endpoints.add_endpoint(url=receiver.url)
    write_users(scim, django_capture_on_commit_callbacks, ["ada", "bob", "cy"])
    run_tasks()
    delivered = [item.json["sequence"] for item in receiver.received]
    assert len(delivered) == 3
    replay = f"{ADMIN}/{endpoint.pk}/replay/"
    form = staff.get(replay).content.decode()
    assert str(scim.connection.pk) in form and 'name="from_number"' in form
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            replay, {"connection": scim.connection.pk, "from_number": delivered[1]}
        )
    assert response.status_code == 302
    run_tasks()
    again = [item.json["sequence"] for item in receiver.received[3:]]
    assert again == delivered[1:]
    assert [item.headers["webhook-id"] for item in receiver.received[3:]] == [
        item.headers["webhook-id"] for item in receiver.received[1:3]
    ]
    refused = staff.post(replay, {"connection": scim.connection.pk, "from_number": "0"})
    assert "greater than or equal to 1" in refused.content.decode()


def test_streams_and_backlog_are_shown(
    staff, scim, insecure, receiver, django_capture_on_commit_callbacks
):
    receiver.answer = lambda item: (503, b"down")
    endpoint, _ = endpoints.add_endpoint(url=receiver.url)
    write_users(scim, django_capture_on_commit_callbacks, ["ada", "bob"])
    run_tasks()
    listing = staff.get(f"{ADMIN}/").content.decode()
    assert re.search(r'<td class="field-backlog">2</td>', listing), listing
    change = staff.get(f"{ADMIN}/{endpoint.pk}/change/").content.decode()
    assert scim.connection.name in change and "answered 503" in change
    assert f"/admin/scim_portal/deliveryattempt/?endpoint__id__exact={endpoint.pk}" in change


def test_staff_without_the_change_permission_cannot_act(staff, setup, insecure, receiver):
    endpoint, _ = endpoints.add_endpoint(url=receiver.url)
    viewer = staff_with("view_webhookendpoint")
    change = viewer.get(f"{ADMIN}/{endpoint.pk}/change/")
    assert change.status_code == 200
    assert "/rotate-secret/" not in change.content.decode()
    data = {"overlap_hours": "1", "connection": setup["connection"].pk, "from_number": "1"}
    for action in ("rotate-secret", "send-test", "pause", "resume", "replay"):
        assert viewer.get(f"{ADMIN}/{endpoint.pk}/{action}/").status_code == 403
        assert viewer.post(f"{ADMIN}/{endpoint.pk}/{action}/", data).status_code == 403
    assert viewer.post(f"{ADMIN}/add/", {"url": "https://a.example/x"}).status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.state == "enabled" and endpoint.secrets.count() == 1
    assert receiver.received == [] and not DeliveryAttempt.objects.exists()


def test_actions_need_the_csrf_token(insecure, receiver):
    endpoint, _ = endpoints.add_endpoint(url=receiver.url)
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for action in ("rotate-secret", "send-test", "pause"):
        assert (
            client.post(f"{ADMIN}/{endpoint.pk}/{action}/", {"overlap_hours": "1"}).status_code
            == 403
        )
    endpoint.refresh_from_db()
    assert endpoint.state == "enabled" and endpoint.secrets.count() == 1
    assert receiver.received == []


def test_delete_goes_through_the_service(staff, caplog):
    endpoint, _ = endpoints.add_endpoint(url="https://hooks.example.com/in")
    with caplog.at_level("INFO", logger="scim_portal.audit"):
        response = staff.post(f"{ADMIN}/{endpoint.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not WebhookEndpoint.objects.exists()
    assert any("deleted by vendor" in record.getMessage() for record in caplog.records)


def test_the_delivery_log_is_read_only_and_filtered(staff, insecure, receiver):
    receiver.answer = lambda item: (500, b"boom")
    endpoint, _ = endpoints.add_endpoint(url=receiver.url)
    other, _ = endpoints.add_endpoint(url=receiver.url + "/other")
    endpoints.send_test(endpoint)
    endpoints.send_test(other)
    log = "/admin/scim_portal/deliveryattempt"
    listing = staff.get(f"{log}/?endpoint__id__exact={endpoint.pk}").content.decode()
    assert "boom" in listing and "answered 500" in listing
    assert listing.count('class="field-endpoint') == 1  # the other endpoint's test is not listed
    assert f"{log}/add/" not in listing
    assert staff.get(f"{log}/?outcome=delivered").content.decode().count("boom") == 0
    attempt = DeliveryAttempt.objects.filter(endpoint=endpoint).get()
    assert staff.get(f"{log}/add/").status_code == 403
    assert staff.post(f"{log}/{attempt.pk}/delete/", {"post": "yes"}).status_code == 403
    view = staff.get(f"{log}/{attempt.pk}/change/").content.decode()
    assert 'name="_save"' not in view
    assert DeliveryAttempt.objects.count() == 2
