"""Security Event Tokens (RFC 9967) as a receiver sees them: pushed to a real receiver
(RFC 8935) or polled (RFC 8936), verified with PyJWT against the JWKS the site
publishes."""

import json
from datetime import timedelta

import jwt
import pytest
from django.core.management import call_command
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scim_portal.delivery import endpoints, engine, keys, sets
from scim_portal.models import (
    DeliveryAttempt,
    DeliveryStream,
    EventType,
    ProvisioningEvent,
    SigningKey,
)
from tests.delivery.conftest import run_tasks

pytestmark = pytest.mark.django_db

ISSUER = "https://saas.example.test"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PROV = "urn:ietf:params:scim:event:prov:"


def user(name, **extra):
    return {"schemas": [USER_SCHEMA], "userName": f"{name}@example.com", "active": True, **extra}


def published_keys(client):
    """The JWKS as a receiver fetches it: from the view, over HTTP."""
    response = client.get("/scim/events/jwks.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "max-age" in response["Cache-Control"]
    document = response.json()
    for key in document["keys"]:
        assert "d" not in key  # public halves only
    return jwt.PyJWKSet.from_dict(document)


def verify(client, token, audience):
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "secevent+jwt"
    key = published_keys(client)[header["kid"]]
    return jwt.decode(
        token, key=key, algorithms=["ES256"], audience=audience, issuer=ISSUER,
        options={"require": ["iss", "aud", "iat", "jti"]},
    )  # fmt: skip


def make_changes(scim, capture):
    """One of each change: create, PATCH, PUT, deactivate, activate, group + members, delete."""
    with capture(execute=True):
        created = scim.post("/Users", user("ada", externalId="ext-ada"))
    assert created.status_code == 201, created.content
    user_id = created.json()["id"]
    with capture(execute=True):
        scim.patch_ops(f"/Users/{user_id}", {"op": "replace", "path": "title", "value": "CTO"})
    with capture(execute=True):
        scim.put(f"/Users/{user_id}", user("ada", externalId="ext-ada", displayName="Ada L"))
    with capture(execute=True):
        scim.patch_ops(f"/Users/{user_id}", {"op": "replace", "path": "active", "value": False})
    with capture(execute=True):
        scim.patch_ops(f"/Users/{user_id}", {"op": "replace", "path": "active", "value": True})
    with capture(execute=True):
        group = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Eng"})
    group_id = group.json()["id"]
    with capture(execute=True):
        scim.patch_ops(
            f"/Groups/{group_id}", {"op": "add", "path": "members", "value": [{"value": user_id}]}
        )
    with capture(execute=True):
        assert scim.delete(f"/Users/{user_id}").status_code == 204
    return user_id, group_id


def test_pushed_sets_verify_against_the_published_jwks_in_order(
    scim, client, receiver, django_capture_on_commit_callbacks
):
    receiver.answer = lambda item: (202, b"")
    _endpoint, issued = endpoints.add_endpoint(url=receiver.url, format="set")
    user_id, group_id = make_changes(scim, django_capture_on_commit_callbacks)
    run_tasks()
    arrived = receiver.applied_in_order()
    for item in arrived:
        assert item.headers["content-type"] == "application/secevent+jwt"
        assert item.headers["authorization"] == f"Bearer {issued.raw}"
    tokens = [verify(client, item.body.decode(), receiver.url) for item in arrived]
    assert [list(token["events"]) for token in tokens] == [
        [PROV + "create:notice"],
        [PROV + "patch:full"],  # the PATCH
        [PROV + "patch:full"],  # the PUT: its change, as the PATCH that makes it
        [PROV + "deactivate"],
        [PROV + "activate"],
        [PROV + "create:notice"],
        [PROV + "patch:full"],  # members added
        [PROV + "delete"],
    ]
    first = tokens[0]
    assert first["sub_id"] == {
        "format": "scim", "uri": f"/Users/{user_id}", "id": user_id,
        "externalId": "ext-ada", "userName": "ada@example.com",
    }  # fmt: skip
    assert first["events"][PROV + "create:notice"] == {
        "attributes": ["id", "userName", "externalId"]
    }
    assert tokens[1]["events"][PROV + "patch:full"]["data"]["Operations"] == [
        {"op": "replace", "path": "title", "value": "CTO"}
    ]
    assert {"op": "replace", "path": "displayName", "value": "Ada L"} in tokens[2]["events"][
        PROV + "patch:full"
    ]["data"]["Operations"]
    assert tokens[6]["sub_id"]["uri"] == f"/Groups/{group_id}"
    assert tokens[6]["events"][PROV + "patch:full"]["data"]["Operations"] == [
        {"op": "add", "path": "members", "value": [{"value": user_id, "$ref": f"/Users/{user_id}"}]}
    ]
    assert tokens[7]["events"][PROV + "delete"] == {}
    assert all(token["connection_id"] == str(scim.connection.pk) for token in tokens)
    sequences = [token["sequence"] for token in tokens]
    assert sequences == sorted(sequences)
    assert len({token["jti"] for token in tokens}) == len(tokens)
    assert all(token["txn"].startswith("evt_") for token in tokens)
    assert DeliveryAttempt.objects.filter(outcome="delivered").count() == len(tokens)


def test_a_replayed_set_keeps_its_jti(scim, client, receiver, django_capture_on_commit_callbacks):
    endpoint, _ = endpoints.add_endpoint(url=receiver.url, format="set")
    with django_capture_on_commit_callbacks(execute=True):
        scim.post("/Users", user("ada"))
    run_tasks()
    first = verify(client, receiver.received[-1].body.decode(), receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        endpoints.replay(endpoint, scim.connection.pk, first["sequence"])
    run_tasks()
    again = verify(client, receiver.received[-1].body.decode(), receiver.url)
    assert len(receiver.received) == 2
    assert again["jti"] == first["jti"] and again["txn"] == first["txn"]


def test_every_event_type_has_an_event_uri():
    for event_type in EventType.values:
        uri = sets.event_uri(event_type)
        assert uri.startswith((PROV, "urn:django-scim-portal:event:")), event_type
    assert sets.event_uri("connection.deleted") == "urn:django-scim-portal:event:connection.deleted"
    assert sets.scim_path(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager.value"
    ) == ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value")


def test_a_set_refused_as_invalid_request_is_dead_lettered_at_once(
    scim, receiver, django_capture_on_commit_callbacks
):
    receiver.answer = lambda item: (
        400, json.dumps({"err": "invalid_request", "description": "no such event"}).encode()
    )  # fmt: skip
    endpoints.add_endpoint(url=receiver.url, format="set")
    with django_capture_on_commit_callbacks(execute=True):
        scim.post("/Users", user("ada"))
    run_tasks()
    attempt = DeliveryAttempt.objects.get()
    assert attempt.outcome == "dead"
    assert attempt.error == "answered 400 invalid_request: no such event"


def test_a_set_refused_for_its_audience_is_tried_again(
    scim, receiver, django_capture_on_commit_callbacks
):
    receiver.answer = lambda item: (400, b'{"err": "invalid_audience", "description": "aud?"}')
    endpoints.add_endpoint(url=receiver.url, format="set")
    with django_capture_on_commit_callbacks(execute=True):
        scim.post("/Users", user("ada"))
    run_tasks()
    attempt = DeliveryAttempt.objects.get()
    assert attempt.outcome == "failed"
    assert attempt.error == "answered 400 invalid_audience: aud?"
    assert DeliveryStream.objects.get().next_attempt_at is not None


# Polling (RFC 8936)


@pytest.fixture
def polled(db):
    endpoint, issued = endpoints.add_endpoint(format="set", method="poll")
    return endpoint, issued.raw


def poll(client, endpoint, secret, **body):
    return client.post(
        f"/scim/events/{endpoint.pk}/poll",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


def write_users(scim, names):
    for name in names:
        assert scim.post("/Users", user(name)).status_code == 201


def names_of(client, answer, endpoint):
    audience = f"urn:uuid:{endpoint.pk}"
    tokens = [verify(client, token, audience) for token in answer["sets"].values()]
    assert list(answer["sets"]) == [token["jti"] for token in tokens]
    return [token["sub_id"]["userName"] for token in tokens]


def test_poll_serves_unacknowledged_sets_again_and_acknowledged_ones_never(scim, client, polled):
    endpoint, secret = polled
    write_users(scim, ["ada", "bob", "cy"])
    first = poll(client, endpoint, secret, maxEvents=2, returnImmediately=True).json()
    assert names_of(client, first, endpoint) == ["ada@example.com", "bob@example.com"]
    assert first["moreAvailable"] is True
    # Not acknowledged: served again.
    again = poll(client, endpoint, secret, maxEvents=2).json()
    assert list(again["sets"]) == list(first["sets"])
    # Acknowledged: never again.
    ada, bob = list(first["sets"])
    after = poll(client, endpoint, secret, ack=[ada, bob], maxEvents=10).json()
    assert names_of(client, after, endpoint) == ["cy@example.com"]
    assert after["moreAvailable"] is False
    cy = next(iter(after["sets"]))
    assert list(poll(client, endpoint, secret, ack=[ada]).json()["sets"]) == [cy]
    done = poll(client, endpoint, secret, ack=[cy], maxEvents=10).json()
    assert done == {"sets": {}, "moreAvailable": False}
    assert DeliveryAttempt.objects.filter(endpoint=endpoint, outcome="acknowledged").count() == 3
    last = ProvisioningEvent.objects.filter(connection=scim.connection).order_by("number").last()
    assert DeliveryStream.objects.get(endpoint=endpoint).position == last.number


def test_an_acknowledgement_out_of_order_moves_the_stream_when_the_gap_closes(scim, client, polled):
    endpoint, secret = polled
    write_users(scim, ["ada", "bob", "cy"])
    ada, bob, cy = list(poll(client, endpoint, secret).json()["sets"])
    stream_start = DeliveryStream.objects.get(endpoint=endpoint).position
    answer = poll(client, endpoint, secret, ack=[bob], setErrs={cy: {"err": "invalid_key"}})
    assert names_of(client, answer.json(), endpoint) == ["ada@example.com"]
    assert DeliveryStream.objects.get(endpoint=endpoint).position == stream_start
    refused = DeliveryAttempt.objects.get(endpoint=endpoint, outcome="failed")
    assert refused.error == "refused: invalid_key"
    assert poll(client, endpoint, secret, ack=[ada]).json() == {"sets": {}, "moreAvailable": False}
    assert DeliveryStream.objects.get(endpoint=endpoint).position == stream_start + 3


def test_max_events_zero_only_acknowledges(scim, client, polled):
    endpoint, secret = polled
    write_users(scim, ["ada", "bob"])
    ada, bob = list(poll(client, endpoint, secret).json()["sets"])
    answer = poll(client, endpoint, secret, ack=[ada], maxEvents=0).json()
    assert answer == {"sets": {}, "moreAvailable": True}
    assert list(poll(client, endpoint, secret).json()["sets"]) == [bob]


def test_an_account_endpoint_serves_only_its_accounts_events(scim, other_scim, client):
    endpoint, issued = endpoints.add_endpoint(
        format="set", method="poll", account=scim.connection.account
    )
    write_users(scim, ["ada"])
    write_users(other_scim, ["zed"])
    answer = poll(client, endpoint, issued.raw).json()
    assert names_of(client, answer, endpoint) == ["ada@example.com"]


def test_poll_authentication(scim, client, polled, receiver):
    endpoint, secret = polled
    _other, other_issued = endpoints.add_endpoint(format="set", method="poll")
    for token in ["whsec_wrong", other_issued.raw]:
        answer = poll(client, endpoint, token)
        assert answer.status_code == 401
        assert answer.json()["err"] == "authentication_failed"
        assert answer["WWW-Authenticate"].startswith("Bearer")
    missing = client.post(f"/scim/events/{endpoint.pk}/poll", "{}", content_type="application/json")
    assert missing.status_code == 401 and missing.json()["err"] == "authentication_failed"
    # A rotated secret ends when its overlap does.
    endpoints.rotate_secret(endpoint, overlap_hours=0)
    assert poll(client, endpoint, secret).status_code == 401
    # A pushed endpoint cannot be polled, even with its own secret.
    pushed, pushed_issued = endpoints.add_endpoint(url=receiver.url, format="set")
    answer = poll(client, pushed, pushed_issued.raw)
    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["err"] == "not_found"


def test_poll_errors_are_json(client, polled):
    endpoint, secret = polled
    url = f"/scim/events/{endpoint.pk}/poll"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    for body in ["not json", "[]", '{"maxEvents": -1}', '{"ack": "x"}', '{"setErrs": {"a": 1}}']:
        answer = client.post(url, body, content_type="application/json", **auth)
        assert answer.status_code == 400, body
        assert answer.json()["err"] == "invalid_request"
    answer = client.get(url, **auth)
    assert answer.status_code == 405 and answer.json()["err"] == "invalid_request"


def test_poll_queries_do_not_grow_with_the_events(scim, client, polled):
    endpoint, secret = polled

    def queries_of_a_poll():
        served = poll(client, endpoint, secret).json()["sets"]
        with CaptureQueriesContext(db) as queries:
            answer = poll(client, endpoint, secret, ack=list(served)).json()
        assert answer == {"sets": {}, "moreAvailable": False}
        return len(queries)

    write_users(scim, [f"a{i}" for i in range(3)])
    few = queries_of_a_poll()
    write_users(scim, [f"b{i}" for i in range(40)])
    many = queries_of_a_poll()
    assert many == few
    assert many <= 12


# Keys


def test_an_old_set_verifies_with_the_retired_key_after_rotation(scim, client, polled, caplog):
    endpoint, secret = polled
    write_users(scim, ["ada"])
    old_token = next(iter(poll(client, endpoint, secret).json()["sets"].values()))
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    with caplog.at_level("INFO", logger="scim_portal.audit"):
        call_command("scim_portal", "rotate-signing-key")
    assert "SET signing key rotated by the command" in caplog.text
    audience = f"urn:uuid:{endpoint.pk}"
    assert verify(client, old_token, audience)["sub_id"]["userName"] == "ada@example.com"
    new_token = next(iter(poll(client, endpoint, secret).json()["sets"].values()))
    assert jwt.get_unverified_header(new_token)["kid"] != old_kid
    verify(client, new_token, audience)
    # Thirty days on, the retired key is no longer published.
    SigningKey.objects.filter(kid=old_kid).update(retired_at=timezone.now() - timedelta(days=31))
    assert old_kid not in [key.key_id for key in published_keys(client).keys]


def test_the_first_key_is_made_once(client):
    assert SigningKey.objects.count() == 0
    first = published_keys(client)
    assert len(first.keys) == 1
    assert len(published_keys(client).keys) == 1
    assert keys.current_key().kid == first.keys[0].key_id


def test_two_first_keys_made_at_once_settle_on_one(monkeypatch):
    original = keys._new_key

    def racing(algorithm):
        original(algorithm)  # another process's first key, made at the same moment
        return original(algorithm)

    monkeypatch.setattr(keys, "_new_key", racing)
    winner = keys.current_key()
    assert list(SigningKey.objects.filter(retired_at__isnull=True)) == [winner]
    assert keys.current_key() == winner
    # The other is retired, and still published: whatever it signed verifies.
    assert len(keys.jwks()["keys"]) == 2


def test_engine_sends_sets_with_the_current_key(scim, receiver, django_capture_on_commit_callbacks):
    endpoints.add_endpoint(url=receiver.url, format="set")
    key = keys.rotate_signing_key(algorithm="RS256")
    with django_capture_on_commit_callbacks(execute=True):
        scim.post("/Users", user("ada"))
    run_tasks()
    header = jwt.get_unverified_header(receiver.received[-1].body.decode())
    assert header == {"alg": "RS256", "typ": "secevent+jwt", "kid": key.kid}
    assert engine.SET_MEDIA_TYPE == sets.MEDIA_TYPE


def test_poll_needs_no_csrf_token(scim, polled):
    from django.test import Client

    endpoint, secret = polled
    write_users(scim, ["ada"])
    answer = poll(Client(enforce_csrf_checks=True), endpoint, secret)
    assert answer.status_code == 200 and len(answer.json()["sets"]) == 1


def test_a_poll_body_past_the_upload_limit_is_a_json_error(client, polled, settings):
    """Django refuses to read a body past DATA_UPLOAD_MAX_MEMORY_SIZE: a receiver sending
    a huge ack list gets RFC 8936's JSON error, not Django's HTML 400 page."""
    endpoint, secret = polled
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"ack": ["x" * 40] * 100})
    answer = client.post(
        f"/scim/events/{endpoint.pk}/poll", body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )  # fmt: skip
    assert answer.status_code == 413
    assert answer.json()["err"] == "invalid_request"


@pytest.mark.parametrize("head", ["\u00b2", "9999999999999999999"])
def test_an_acknowledgement_naming_no_event_is_ignored(scim, client, polled, head):
    """A jti with this receiver's suffix and a head that is no event id (a superscript
    digit, a number past the id column) is ignored like any unknown jti."""
    endpoint, secret = polled
    write_users(scim, ["ada"])
    (ada,) = list(poll(client, endpoint, secret).json()["sets"])
    suffix = ada.partition("-")[2]
    answer = poll(client, endpoint, secret, ack=[f"{head}-{suffix}"])
    assert answer.status_code == 200
    assert list(answer.json()["sets"]) == [ada]
