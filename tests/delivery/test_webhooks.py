"""Webhooks against a real receiver: what a vendor's service behind an endpoint sees."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from scim_portal.delivery import endpoints, engine
from scim_portal.models import DeliveryAttempt, DeliveryStream, WebhookEndpoint
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
    _, issued = endpoints.add_endpoint(url=receiver.url)
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


def test_backoff_intervals_grow_as_configured_with_jitter(
    scim, receiver, clock, django_capture_on_commit_callbacks, settings
):
    settings.SCIM_PORTAL = {
        **settings.SCIM_PORTAL,
        "WEBHOOK_RETRY_FIRST_SECONDS": 10,
        "WEBHOOK_RETRY_MAX_SECONDS": 80,
    }
    receiver.answer = lambda item: (500, b"")
    endpoints.add_endpoint(url=receiver.url)
    write_users(scim, django_capture_on_commit_callbacks, ["ada"])
    run_tasks()
    waits = []
    for _ in range(6):
        stream = DeliveryStream.objects.get()
        waits.append((stream.next_attempt_at - clock.moment).total_seconds())
        clock.moment = stream.next_attempt_at
        engine.sweep()
        run_tasks()
    for wait, ceiling in zip(waits, [10, 20, 40, 80, 80, 80], strict=True):
        assert ceiling / 2 <= wait <= ceiling
    assert len(receiver.received) == 7


def test_an_event_failing_for_the_whole_window_is_dead_lettered_and_the_stream_goes_on(
    scim, receiver, clock, django_capture_on_commit_callbacks
):
    receiver.answer = lambda item: (
        (500, b"") if item.json["data"]["changes"]["userName"].startswith("ada") else (200, b"")
    )
    endpoint, _ = endpoints.add_endpoint(url=receiver.url)
    write_users(scim, django_capture_on_commit_callbacks, ["ada", "bob"])
    run_tasks()
    clock.advance(hours=71)
    engine.sweep()
    run_tasks()
    assert receiver.applied == {}  # bob waits behind ada
    clock.advance(hours=2)
    engine.sweep()
    run_tasks()
    assert [i.json["data"]["changes"]["userName"] for i in receiver.applied_in_order()] == [
        "bob@example.com"
    ]
    outcomes = list(DeliveryAttempt.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["failed", "failed", "dead", "delivered"]
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.state == "enabled"


def test_an_endpoint_failing_for_days_is_disabled(
    scim, receiver, clock, django_capture_on_commit_callbacks
):
    receiver.answer = lambda item: (500, b"")
    endpoint, _ = endpoints.add_endpoint(url=receiver.url)
    for day in range(6):  # the IdP keeps changing people; every delivery fails
        write_users(scim, django_capture_on_commit_callbacks, [f"day{day}"])
        run_tasks()
        clock.advance(days=1)
        engine.sweep()
        run_tasks()
    endpoint.refresh_from_db()
    assert endpoint.state == "disabled" and endpoint.failing_since is not None
    sent = len(receiver.received)
    write_users(scim, django_capture_on_commit_callbacks, ["bob"])
    clock.advance(days=1)
    engine.sweep()
    run_tasks()
    assert len(receiver.received) == sent  # nothing more goes to a disabled endpoint
    receiver.answer = None
    with django_capture_on_commit_callbacks(execute=True):
        endpoints.update_endpoint(endpoint, state="enabled")
    run_tasks()
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None
    # What was still inside its retry window arrives, in order, bob last.
    arrived = receiver.applied_in_order()
    assert arrived[-1].json["data"]["changes"]["userName"] == "bob@example.com"
    numbers = [item.json["sequence"] for item in arrived]
    assert numbers == sorted(numbers)


def test_a_stalled_receiver_times_out_and_the_event_is_tried_again(
    scim, receiver, clock, django_capture_on_commit_callbacks, settings
):
    import time

    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "WEBHOOK_TIMEOUT": 0.5}
    stall = {"left": 1}

    def answer(item):
        if stall["left"]:
            stall["left"] -= 1
            time.sleep(1.5)
        return 200, b""

    receiver.answer = answer
    endpoints.add_endpoint(url=receiver.url)
    write_users(scim, django_capture_on_commit_callbacks, ["ada"])
    run_tasks()
    attempt = DeliveryAttempt.objects.get()
    assert attempt.outcome == "failed" and "did not answer within 0.5 seconds" in attempt.error
    clock.advance(seconds=10)
    engine.sweep()
    run_tasks()
    assert len(receiver.applied) == 1


def test_a_name_resolving_to_a_private_address_is_refused_at_delivery(
    scim, receiver, django_capture_on_commit_callbacks, settings, monkeypatch
):
    """The endpoint was saved with a public-looking name; at delivery time the name points
    at an internal address (DNS changed, or rebinding): nothing is sent there."""
    import socket

    from scim_portal import _outbound

    endpoints.add_endpoint(url="https://hooks.example.com/in")
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "WEBHOOK_ALLOW_INSECURE": False}
    connected = []
    internal = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 443))]
    monkeypatch.setattr(_outbound.socket, "getaddrinfo", lambda *a, **k: internal)
    monkeypatch.setattr(_outbound.socket, "create_connection", lambda *a, **k: connected.append(a))
    write_users(scim, django_capture_on_commit_callbacks, ["ada"])
    run_tasks()
    attempt = DeliveryAttempt.objects.get()
    assert attempt.outcome == "failed" and "private address" in attempt.error
    assert connected == []


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/in",
        "https://10.0.0.1/in",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/in",
        "https://localhost/in",
        "ftp://hooks.example.com/in",
        "https://hooks.example.com/caf\u00e9",
        "https://hooks.example.com/in\x7f",
    ],
)
def test_endpoints_must_be_public_https_unless_development_allows(url, settings, db):
    from django.core.exceptions import ValidationError

    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "WEBHOOK_ALLOW_INSECURE": False}
    with pytest.raises(ValidationError):
        endpoints.add_endpoint(url=url)


def test_replay_from_a_number_sends_those_events_again_with_their_ids(
    scim, receiver, django_capture_on_commit_callbacks
):
    endpoint, _ = endpoints.add_endpoint(url=receiver.url)
    write_users(scim, django_capture_on_commit_callbacks, ["ada", "bob", "cy"])
    run_tasks()
    first = [item.headers["webhook-id"] for item in receiver.received]
    second_number = receiver.received[1].json["sequence"]
    with django_capture_on_commit_callbacks(execute=True):
        endpoints.replay(endpoint, scim.connection.pk, second_number)
    run_tasks()
    again = [item.headers["webhook-id"] for item in receiver.received[3:]]
    assert again == first[1:]
    assert receiver.duplicates == 2 and len(receiver.applied) == 3


def test_an_endpoint_gets_only_its_types_and_its_account(
    scim, other_scim, receiver, django_capture_on_commit_callbacks
):
    endpoints.add_endpoint(
        url=receiver.url, account=scim.connection.account, event_types=["user.deactivated"]
    )
    write_users(scim, django_capture_on_commit_callbacks, ["ada"])
    write_users(other_scim, django_capture_on_commit_callbacks, ["bob"])
    user_id = scim.get("/Users").json()["Resources"][0]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        scim.patch(
            f"/Users/{user_id}",
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": False}],
            },
        )
    engine.sweep()
    run_tasks()
    assert [item.json["type"] for item in receiver.received] == ["user.deactivated"]
    assert receiver.received[0].json["connection_id"] == str(scim.connection.pk)


def test_a_new_endpoint_starts_after_the_events_already_written(
    scim, receiver, django_capture_on_commit_callbacks, clock
):
    write_users(scim, django_capture_on_commit_callbacks, ["ada"])
    clock.advance(seconds=1)
    with django_capture_on_commit_callbacks(execute=True):
        endpoints.add_endpoint(url=receiver.url)
    clock.advance(seconds=1)
    engine.sweep()
    run_tasks()
    assert receiver.received == []
    write_users(scim, django_capture_on_commit_callbacks, ["bob"])
    run_tasks()
    assert [i.json["data"]["changes"]["userName"] for i in receiver.received] == ["bob@example.com"]


def test_a_paused_endpoint_holds_its_events_until_resumed(
    scim, receiver, django_capture_on_commit_callbacks
):
    endpoint, _ = endpoints.add_endpoint(url=receiver.url)
    write_users(scim, django_capture_on_commit_callbacks, ["ada"])
    run_tasks()
    endpoints.update_endpoint(endpoint, state="paused")
    write_users(scim, django_capture_on_commit_callbacks, ["bob", "cy"])
    engine.sweep()
    run_tasks()
    assert len(receiver.received) == 1
    with django_capture_on_commit_callbacks(execute=True):
        endpoints.update_endpoint(endpoint, state="enabled")
    run_tasks()
    assert [i.json["data"]["changes"]["userName"] for i in receiver.applied_in_order()] == [
        "ada@example.com", "bob@example.com", "cy@example.com",
    ]  # fmt: skip


def test_a_rotated_secret_keeps_signing_beside_the_new_one_through_the_overlap(
    scim, receiver, clock, django_capture_on_commit_callbacks
):
    endpoint, old = endpoints.add_endpoint(url=receiver.url)
    new = endpoints.rotate_secret(endpoint, overlap_hours=24)
    write_users(scim, django_capture_on_commit_callbacks, ["ada"])
    run_tasks()
    item = receiver.received[-1]
    assert len(item.headers["webhook-signature"].split()) == 2
    for secret in (old.raw, new.raw):
        Webhook(secret).verify(item.body, item.headers)
    clock.advance(hours=25)
    write_users(scim, django_capture_on_commit_callbacks, ["bob"])
    engine.sweep()  # bob's task waits for the end of ada's second (real time)
    run_tasks()
    item = receiver.received[-1]
    signed_at = datetime.fromtimestamp(int(item.headers["webhook-timestamp"]), UTC)
    expected = Webhook(new.raw).sign(item.headers["webhook-id"], signed_at, item.body.decode())
    assert item.headers["webhook-signature"] == expected  # the new secret's alone


def test_delivery_costs_a_bounded_number_of_queries_per_event(
    scim, receiver, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    endpoints.add_endpoint(url=receiver.url)
    names = [f"u{i}" for i in range(30)]
    from scim_portal.models import ProvisioningEvent

    with django_capture_on_commit_callbacks(execute=False):
        for name in names:
            assert scim.post("/Users", user(name)).status_code == 201
    assert ProvisioningEvent.objects.filter(type="user.created").count() == 30
    engine.sweep()
    # Delivered events are written 20 at a time: the stream's update and one insert of
    # their log rows in a transaction (two savepoint statements here); per task about
    # fifteen more, whatever the number of events (33 for 30 events when written).
    with django_assert_max_num_queries(35):
        run_tasks()
    assert len(receiver.applied) == 30


def test_a_burst_of_changes_shares_two_tasks_and_every_event_arrives(
    scim, receiver, django_capture_on_commit_callbacks
):
    """One task now and one at the end of the second, not one per change: the second
    covers the changes that committed after the first looked."""
    import time

    from django_tasks_db.models import DBTaskResult

    endpoints.add_endpoint(url=receiver.url)
    write_users(scim, django_capture_on_commit_callbacks, ["ada"])
    run_tasks()  # ada's task ran before bob, cy, dee committed
    write_users(scim, django_capture_on_commit_callbacks, ["bob", "cy", "dee"])
    assert DBTaskResult.objects.filter(status="READY").count() == 1  # the deferred one
    assert run_tasks() == 0  # not due yet
    time.sleep(1.1)
    assert run_tasks() == 1
    assert [i.json["data"]["changes"]["userName"] for i in receiver.applied_in_order()] == [
        "ada@example.com", "bob@example.com", "cy@example.com", "dee@example.com",
    ]  # fmt: skip
    assert receiver.connections == 2  # one kept-alive connection per task, not per event


def test_one_connection_failing_does_not_hold_back_another(
    scim, other_scim, receiver, django_capture_on_commit_callbacks, clock
):
    """The receiver refuses one connection's events (say, a shard of theirs is down):
    the other connection's events keep arriving, each connection in its own order."""
    down = str(scim.connection.pk)
    receiver.answer = lambda item: (503, b"") if item.json["connection_id"] == down else (204, b"")
    endpoints.add_endpoint(url=receiver.url)
    write_users(scim, django_capture_on_commit_callbacks, ["a1", "a2"])
    write_users(other_scim, django_capture_on_commit_callbacks, ["b1", "b2", "b3"])
    engine.sweep()
    run_tasks()
    names = [i.json["data"]["changes"]["userName"] for i in receiver.applied_in_order()]
    assert names == ["b1@example.com", "b2@example.com", "b3@example.com"]
    receiver.answer = None
    clock.advance(seconds=10)
    engine.sweep()
    run_tasks()
    names = [i.json["data"]["changes"]["userName"] for i in receiver.applied_in_order()]
    assert names[3:] == ["a1@example.com", "a2@example.com"]


def names(receiver):
    return [item.json["data"]["changes"]["userName"] for item in receiver.applied_in_order()]


def test_a_replay_from_past_the_streams_place_skips_nothing_undelivered(
    scim, receiver, clock, django_capture_on_commit_callbacks
):
    """The receiver was down: the stream waits on ada. A replay "from bob's number" must
    not move the stream over ada, unsent, unlogged, lost."""
    up = {"yes": False}
    receiver.answer = lambda item: (200, b"ok") if up["yes"] else (503, b"down")
    endpoint, _ = endpoints.add_endpoint(url=receiver.url)
    write_users(scim, django_capture_on_commit_callbacks, ["ada", "bob", "cy"])
    run_tasks()
    assert receiver.applied == {}
    bob = receiver.received[0].json["sequence"] + 1
    up["yes"] = True
    with django_capture_on_commit_callbacks(execute=True):
        endpoints.replay(endpoint, scim.connection.pk, bob)
    run_tasks()
    assert names(receiver) == ["ada@example.com", "bob@example.com", "cy@example.com"]


def test_a_replay_while_a_worker_delivers_never_has_two_senders_on_the_stream(
    scim, receiver, clock, django_capture_on_commit_callbacks, monkeypatch
):
    """A replay lands while a worker is sending the stream's events. The worker must stop
    (its place is no longer the stream's), and no second worker may send the replayed
    events before it has: two senders on one stream interleave its events."""
    endpoint, _ = endpoints.add_endpoint(url=receiver.url)
    endpoints.update_endpoint(endpoint, state="paused")
    write_users(scim, django_capture_on_commit_callbacks, ["ada", "bob", "cy"])
    endpoints.update_endpoint(endpoint, state="enabled")
    stream = engine.streams_of(scim.connection.pk)[0]
    first = stream.position + 1
    real_send, senders, depth = engine.send, [], {"now": 0}

    def send(*args, **kwargs):
        senders.append(depth["now"])
        if len(senders) == 1:  # during the first worker's first send: a replay, a 2nd worker
            endpoints.replay(endpoint, scim.connection.pk, first)
            depth["now"] += 1
            engine.drain(stream.pk)
            depth["now"] -= 1
        return real_send(*args, **kwargs)

    monkeypatch.setattr(engine, "send", send)
    engine.drain(stream.pk)
    assert 1 not in senders, "a second worker sent while the first held the stream"
    monkeypatch.setattr(engine, "send", real_send)
    clock.advance(seconds=engine._lease_seconds() + 1)
    engine.sweep()
    run_tasks()
    assert names(receiver) == ["ada@example.com", "bob@example.com", "cy@example.com"]
    assert DeliveryStream.objects.get().position == stream.position + 3


def test_a_new_endpoint_skips_no_event_written_after_it_whatever_the_commit_order(
    scim, receiver, clock, django_capture_on_commit_callbacks
):
    """An event's time is taken before its transaction waits for the connection's lock,
    its number after: two changes racing around an endpoint's creation can number a
    later-stamped event before an earlier-stamped one. The endpoint must still get the
    event stamped after it was made."""
    from scim_portal.models import ProvisioningEvent

    endpoint, _ = endpoints.add_endpoint(url=receiver.url)
    write_users(scim, django_capture_on_commit_callbacks, ["ada", "bob"])
    _ada, bob = ProvisioningEvent.objects.filter(type="user.created").order_by("number")
    ProvisioningEvent.objects.filter(pk=bob.pk).update(
        created_at=endpoint.created_at - timedelta(milliseconds=5)
    )
    engine.sweep()
    run_tasks()
    assert "ada@example.com" in names(receiver)


def test_a_pause_stops_a_delivery_in_progress_within_a_write(
    scim, receiver, django_capture_on_commit_callbacks, monkeypatch
):
    """Paused while a worker is sending a long backlog: it stops at its next write (at
    most twenty events later), and after resuming every event arrives, in order."""
    endpoint, _ = endpoints.add_endpoint(url=receiver.url)
    with django_capture_on_commit_callbacks(execute=False):
        for i in range(60):
            assert scim.post("/Users", user(f"u{i:02}")).status_code == 201

    send = engine.send

    def send_then_pause(*args, **kwargs):
        result = send(*args, **kwargs)
        if len(receiver.received) == 5:  # the tenant's vendor pauses it, from elsewhere
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(state="paused")
        return result

    monkeypatch.setattr(engine, "send", send_then_pause)
    engine.sweep()
    run_tasks()
    assert len(receiver.received) <= engine.WRITE_EVERY
    assert DeliveryStream.objects.get().position < 5  # nothing written after the pause
    monkeypatch.setattr(engine, "send", send)
    with django_capture_on_commit_callbacks(execute=True):
        endpoints.update_endpoint(endpoint, state="enabled")
    run_tasks()
    numbers = [item.json["sequence"] for item in receiver.applied_in_order()]
    assert len(receiver.applied) == 60 and numbers == sorted(numbers)
