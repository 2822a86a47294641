"""Races on PostgreSQL, through gunicorn with several worker processes: a code exchanged
many times at once, a refresh token used many times at once."""

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

from scim_portal.models import AccessToken, Credential
from tests.oauth.test_authorization_code import OKTA, code_for, register
from tests.scim.test_concurrency import gunicorn
from tests.scim_client import basic_auth

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]
PARALLEL = 8


def post(url, form, application, secret):
    authorization = basic_auth(application.client_id, secret)
    request = urllib.request.Request(
        url,
        data=urlencode(form).encode(),
        method="POST",
        headers={"Authorization": authorization},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def scim_status(base, connection, access_token):
    request = urllib.request.Request(
        f"{base}/scim/v2/{connection.pk}/Users",
        headers={"Authorization": f"Bearer {access_token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def at_once(function):
    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(lambda _: function(), range(PARALLEL)))


def test_one_code_exchanged_at_once_gives_one_answer_then_revokes_it(client, setup):
    application, secret = register()
    code = code_for(client, setup, application)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": OKTA}
    with gunicorn() as (base, _process):
        results = at_once(lambda: post(f"{base}/scim/oauth/token", form, application, secret))
        statuses = sorted(status for status, _ in results)
        assert statuses == [200] + [400] * (PARALLEL - 1), results
        assert {body["error"] for status, body in results if status == 400} == {"invalid_grant"}
        (issued,) = [body for status, body in results if status == 200]
        # The other attempts were replays: the one authorisation is revoked with its token.
        assert scim_status(base, setup["connection"], issued["access_token"]) == 401
    (authorisation,) = Credential.objects.filter(kind="authorization")
    assert authorisation.revoked_at is not None


def test_one_refresh_token_used_at_once_rotates_once(client, setup):
    application, secret = register()
    code = code_for(client, setup, application)
    with gunicorn() as (base, _process):
        token_url = f"{base}/scim/oauth/token"
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": OKTA}
        status, first = post(token_url, form, application, secret)
        assert status == 200, first
        form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        results = at_once(lambda: post(token_url, form, application, secret))
        statuses = sorted(status for status, _ in results)
        assert statuses == [200] + [400] * (PARALLEL - 1), results
        (second,) = [body for status, body in results if status == 200]
        assert scim_status(base, setup["connection"], second["access_token"]) == 200
        form = {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
        assert post(token_url, form, application, secret)[0] == 200
    assert AccessToken.objects.exclude(refresh_digest=None).count() == 1


def test_a_refresh_racing_a_revocation_waits_for_it_instead_of_deadlocking(client, setup):
    """The revocation holds the authorisation's row and then ends its tokens; a refresh
    arriving in between waits for it (it locks the credential before the token) and is
    refused, rather than holding the token and deadlocking: a 503 for the IdP."""
    import threading
    import time

    from django.db import connection as db
    from django.db import transaction
    from django.test import Client
    from django.utils import timezone

    from scim_portal.models import AccessToken
    from tests.oauth.test_authorization_code import exchange, refresh

    application, secret = register()
    code = code_for(client, setup, application)
    first = exchange(client, application, secret, code).json()
    authorisation = Credential.objects.get(kind="authorization")
    holding, answers, failures = threading.Event(), [], []

    def revoke():
        try:
            with transaction.atomic():
                Credential.objects.select_for_update().select_related("connection").get(
                    pk=authorisation.pk
                )
                holding.set()
                time.sleep(1.5)  # the refresh arrives meanwhile
                # What revoke_credential does next, with its row still held.
                now = timezone.now()
                AccessToken.objects.filter(credential=authorisation).update(revoked_at=now)
                Credential.objects.filter(pk=authorisation.pk).update(revoked_at=now)
        except Exception as exc:  # a deadlock victim
            failures.append(exc)
        finally:
            db.close()

    def use_refresh_token():
        holding.wait()
        try:
            answers.append(refresh(Client(), application, secret, first["refresh_token"]))
        finally:
            db.close()

    threads = [threading.Thread(target=revoke), threading.Thread(target=use_refresh_token)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    (answer,) = answers
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
