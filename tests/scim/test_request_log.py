import pytest

from scim_portal.models import RequestLog

pytestmark = pytest.mark.django_db


def test_each_request_is_logged_once_with_secrets_redacted(scim):
    scim.post(
        "/Users",
        {"userName": "log@example.com", "password": "Tr0ub4dor&3"},
        headers={"User-Agent": "Okta SCIM Client 1.0.0"},
    )
    [entry] = RequestLog.objects.all()
    assert entry.connection_id == scim.connection.id
    assert (entry.method, entry.status) == ("POST", 201)
    assert entry.path.endswith("/Users")
    assert entry.idp == "okta" and entry.user_agent.startswith("Okta")
    assert entry.token_prefix == scim.token[:14]
    assert "Tr0ub4dor&3" not in entry.request_body and "[redacted]" in entry.request_body
    assert "log@example.com" in entry.response_body
    assert entry.duration_ms >= 0


def test_errors_are_logged_with_scim_type_and_detail(scim):
    scim.create_user("dup@example.com")
    scim.post("/Users", {"userName": "dup@example.com"})
    entry = RequestLog.objects.order_by("-id").first()
    assert (entry.status, entry.scim_type) == (409, "uniqueness")
    assert "dup@example.com" in entry.detail


def test_bad_token_is_logged_for_an_existing_connection_only(scim, client):
    client.get(f"{scim.base}/Users", HTTP_AUTHORIZATION="Bearer scimp_wrong")
    client.get("/scim/v2/00000000-0000-7000-8000-000000000000/Users")
    [entry] = RequestLog.objects.all()
    assert entry.status == 401 and entry.token_prefix == ""


def test_query_string_and_entra_user_agent(scim):
    scim.get(
        "/Users",
        filter='userName eq "x"',
        headers={"User-Agent": "Microsoft.Identity.Provisioning.AzureAD"},
    )
    entry = RequestLog.objects.get()
    assert "filter=" in entry.query and entry.idp == "entra"


def test_unparseable_bodies_are_logged_with_passwords_masked(scim):
    scim.post("/Users", '{"userName": "x", "password": "hunter2"')
    entry = RequestLog.objects.get()
    assert entry.status == 400
    assert "hunter2" not in entry.request_body


def test_successful_reads_do_not_store_their_answer(scim):
    scim.create_user("reader@example.com")
    scim.get("/Users")
    entry = RequestLog.objects.order_by("-id").first()
    assert entry.method == "GET" and entry.response_body == ""
