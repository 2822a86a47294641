"""Failures as an operator meets them, against a real gunicorn on a real PostgreSQL:
the database going away and coming back, and a body far over the limit."""

import http.client
import json
import os
import subprocess
from pathlib import Path

import pytest
from django.db import connection as db

from scim_portal.provisioning import create_connection
from tests.factories import OrganizationFactory
from tests.scim.test_concurrency import server  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


def pg_ctl(*args):
    """Run pg_ctl on the server scripts/with-postgres started (as postgres when root)."""
    data = os.environ["SCIM_PORTAL_PG_DATA"]
    command = [f"{os.environ['SCIM_PORTAL_PG_BIN']}/pg_ctl", "-D", data, "-w", *args]
    if os.getuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


@pytest.fixture
def idp(server):  # noqa: F811
    connection, issued = create_connection(account=OrganizationFactory(), name="O", provider="okta")
    host, port = server.removeprefix("http://").split(":")

    def send(method, path, body=b"", headers=None):
        client = http.client.HTTPConnection(host, int(port), timeout=30)
        client.request(
            method,
            f"/scim/v2/{connection.pk}{path}",
            body=body,
            headers={
                "Authorization": f"Bearer {issued.raw}",
                "Content-Type": "application/scim+json",
                **(headers or {}),
            },
        )
        response = client.getresponse()
        text = response.read()
        client.close()
        return response, text

    return send


@pytest.mark.skipif("SCIM_PORTAL_PG_DATA" not in os.environ, reason="needs scripts/with-postgres")
def test_database_down_answers_503_and_service_resumes_when_it_is_back(idp):
    response, _ = idp("GET", "/Users")
    assert response.status == 200
    data = os.environ["SCIM_PORTAL_PG_DATA"]
    options = (
        f"-h 127.0.0.1 -p {os.environ['PGPORT']} -k {Path(data).parent} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
    )
    db.close()
    pg_ctl("-m", "fast", "stop")
    try:
        later = b'{"userName": "later@example.com"}'
        for method, path, body in (("GET", "/Users", b""), ("POST", "/Users", later)):
            response, text = idp(method, path, body)
            assert response.status == 503
            assert response.getheader("Content-Type") == "application/scim+json"
            assert response.getheader("Retry-After").isdigit()
            assert json.loads(text)["status"] == "503"
    finally:
        pg_ctl("-l", f"{Path(data).parent}/server.log", "-o", options, "start")
    response, text = idp("POST", "/Users", b'{"userName": "after@example.com"}')
    assert response.status == 201, text  # the same gunicorn, no restart
    db.close()


def test_a_body_far_over_the_limit_gets_its_413_not_a_reset(idp):
    body = b'{"userName": "big@example.com", "x": "' + b"a" * (5 * 1024 * 1024) + b'"}'
    response, text = idp("POST", "/Users", body)
    assert response.status == 413
    assert json.loads(text)["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
