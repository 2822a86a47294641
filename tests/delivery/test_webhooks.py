"""Webhooks against a real receiver: what a vendor's service behind an endpoint sees."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from scim_portal.delivery import endpoints, engine
from scim_portal.models import DeliveryAttempt, DeliveryStream
from tests.delivery.conftest import run_tasks

pytestmark = pytest.mark.django_db


def user(name):
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f"{name}@example.com",
        "active": True,
    }


@pytest.fixture
def clock(monkeypatch):
    """The deliveries' clock, moved by hand."""

    class Clock:
        moment = timezone.now()

        def advance(self, **kwargs):
            self.moment += timedelta(**kwargs)

    clock = Clock()
    monkeypatch.setattr(engine, "now", lambda: clock.moment)
    return clock


def write_users(scim, django_capture_on_commit_callbacks, names):
    for name in names:
        with django_capture_on_commit_callbacks(execute=True):
            response = scim.post("/Users", user(name))
        assert response.status_code == 201, response.content


def test_every_event_arrives_in_order_signed(scim, receiver, django_capture_on_commit_callbacks):
    endpoint, issued = endpoints.add_endpoint(url=receiver.url)
    write_users(scim, django_capture_on_commit_callbacks, ["ada", "bob", "cy"])
    run_tasks()
    arrived = receiver.applied_in_order()
    assert [item.json["data"]["changes"]["userName"] for item in arrived] == [
        "ada@example.com", "bob@example.com", "cy@example.com",
    ]  # fmt: skip
    webhook = Webhook(issued.raw)
    for item in arrived:
        payload = webhook.verify(item.body, item.headers)
        assert payload["type"] == "user.created"
        assert payload["connection_id"] == str(scim.connection.pk)
    assert [item.json["sequence"] for item in arrived] == sorted(
        item.json["sequence"] for item in arrived
    )
    assert DeliveryAttempt.objects.filter(outcome="delivered").count() == 3


def test_a_failing_receiver_gets_the_event_again_later_and_order_holds(
    scim, receiver, clock, django_capture_on_commit_callbacks
):
    failures = {"left": 2}

    def answer(item):
        if failures["left"]:
            failures["left"] -= 1
            return 503, b"down for maintenance"
        return 200, b"ok"

    receiver.answer = answer
    endpoints.add_endpoint(url=receiver.url)
    write_users(scim, django_capture_on_commit_callbacks, ["ada", "bob"])
    run_tasks()
    assert receiver.applied == {}
    stream = DeliveryStream.objects.get()
    assert stream.attempts == 1 and stream.next_attempt_at > clock.moment
    # Not due yet: a sweep now sends nothing.
    engine.sweep()
    run_tasks()
    assert len(receiver.received) == 1
    clock.advance(seconds=10)
    engine.sweep()
    run_tasks()
    clock.advance(seconds=20)
    engine.sweep()
    run_tasks()
    arrived = [item.json["data"]["changes"]["userName"] for item in receiver.applied_in_order()]
    assert arrived == ["ada@example.com", "bob@example.com"]
    log = list(DeliveryAttempt.objects.order_by("id").values_list("outcome", "status_code"))
    assert log == [("failed", 503), ("failed", 503), ("delivered", 200), ("delivered", 200)]
    assert DeliveryAttempt.objects.first().response_excerpt in ("ok", "")
