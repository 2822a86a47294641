import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from scim_portal.models import Connection, Credential
from tests.factories import DirectoryUserFactory
from tests.scim_client import basic_auth

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("scim_portal", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def create(organization, provider="okta"):
    out, _ = run(
        "create-connection",
        "--account", organization.handle,
        "--name", "Okta production",
        "--provider", provider,
        "--json",
    )  # fmt: skip
    return json.loads(out)


def test_create_connection_json_contract(organization):
    payload = create(organization)
    assert set(payload) == {"id", "scim_url", "setup_url", "token"}
    assert payload["setup_url"] == payload["scim_url"]  # Okta pastes the bare URL
    connection = Connection.objects.get(pk=payload["id"])
    assert connection.account == organization
    assert payload["scim_url"] == f"https://saas.example.test/scim/v2/{payload['id']}"
    assert payload["scim_url"].endswith(f"/scim/v2/{payload['id']}")
    assert Credential.objects.by_value(payload["token"]).connection == connection


def test_an_entra_connection_gives_the_url_to_paste_beside_the_bare_one(organization, client):
    payload = create(organization, provider="entra")
    assert payload["scim_url"] == f"https://saas.example.test/scim/v2/{payload['id']}"
    assert payload["setup_url"] == payload["scim_url"] + "?aadOptscim062020"
    # The same two URLs wherever the connection is described.
    listed, _ = run("list-connections", "--account", organization.handle, "--json")
    (described,) = json.loads(listed)
    assert (described["scim_url"], described["setup_url"]) == (
        payload["scim_url"],
        payload["setup_url"],
    )


def test_create_connection_human_output_warns_token_is_shown_once(organization):
    out, _ = run(
        "create-connection", "--account", organization.handle, "--name", "Entra",
        "--provider", "entra",
    )  # fmt: skip
    assert "?aadOptscim062020" in out
    assert "shown only this once" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--account", "missing", "--name", "x", "--provider", "okta"], "No account with handle"),
        (["--name", "x", "--provider", "bogus"], "Unknown provider 'bogus'"),
        (["--name", "  ", "--provider", "okta"], "needs a name"),
    ],
)
def test_create_connection_errors(organization, args, message):
    if "--account" not in args:
        args = ["--account", organization.handle, *args]
    with pytest.raises(CommandError, match=message):
        run("create-connection", *args)
    assert not Connection.objects.exists()


def test_missing_subcommand_is_an_error():
    with pytest.raises(CommandError):
        run()


def test_list_connections_json(organization):
    payload = create(organization)
    DirectoryUserFactory(connection_id=payload["id"])
    out, _ = run("list-connections", "--account", organization.handle, "--json")
    [row] = json.loads(out)
    assert row["id"] == payload["id"]
    assert row["users"] == 1 and row["groups"] == 0
    assert row["account"] == organization.handle
    assert [t["prefix"] for t in row["tokens"]] == [payload["token"][:14]]
    assert payload["token"] not in out


def test_list_connections_filters_by_account(organization):
    from tests.factories import OrganizationFactory

    create(organization)
    other = OrganizationFactory()
    out, _ = run("list-connections", "--account", other.handle, "--json")
    assert json.loads(out) == []
    out, _ = run("list-connections")
    assert "Okta production" in out


def test_rotate_then_revoke(organization):
    payload = create(organization)
    out, _ = run("rotate-token", "--connection", payload["id"], "--label", "2026", "--json")
    rotated = json.loads(out)
    assert rotated["token"] != payload["token"]
    assert Credential.objects.by_value(payload["token"]) is not None
    assert Credential.objects.by_value(rotated["token"]) is not None

    out, _ = run("revoke-token", "--connection", payload["id"], "--token", payload["token"][:14])
    assert "Revoked" in out
    assert Credential.objects.by_value(payload["token"]) is None
    assert Credential.objects.by_value(rotated["token"]) is not None


def test_revoke_token_revokes_bearer_tokens_only(organization):
    """``revoke-token`` is the bearer-token form of ``revoke-credential``: a Basic
    username or another kind's prefix names no token."""
    payload = create(organization)
    basic, _ = issue(payload["id"], "basic")
    with pytest.raises(CommandError, match="no token"):
        run("revoke-token", "--connection", payload["id"], "--token", basic["username"])
    assert Credential.objects.get(username=basic["username"]).revoked_at is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rotate-token", "--connection", "not-a-uuid"], "No connection"),
        (["rotate-token", "--connection", "{id}", "--expires-at", "tomorrow"], "ISO 8601"),
        (
            ["rotate-token", "--connection", "{id}", "--expires-at", "2001-01-01T00:00:00Z"],
            "future",
        ),
        (["revoke-token", "--connection", "{id}", "--token", "scimp_nothere"], "no token"),
        (
            ["delete-connection", "--connection", "00000000-0000-7000-8000-000000000000"],
            "No connection",
        ),
    ],
)
def test_token_and_delete_errors(organization, args, message):
    payload = create(organization)
    args = [arg.replace("{id}", payload["id"]) for arg in args]
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_delete_connection(organization, monkeypatch):
    payload = create(organization)
    DirectoryUserFactory.create_batch(2, connection_id=payload["id"])
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="Not deleted"):
        run("delete-connection", "--connection", payload["id"])
    assert Connection.objects.filter(pk=payload["id"]).exists()

    out, _ = run("delete-connection", "--connection", payload["id"], "--no-input")
    assert "2 users, 0 groups" in out
    assert not Connection.objects.filter(pk=payload["id"]).exists()


def test_delete_connection_keeping_the_directory(organization):
    payload = create(organization)
    out, _ = run(
        "delete-connection", "--connection", payload["id"], "--no-input", "--keep-directory"
    )
    assert "host users kept" in out
    assert not Connection.objects.filter(pk=payload["id"]).exists()


def test_prune_deletes_only_rows_past_retention(organization, settings):
    from datetime import timedelta

    from django.utils import timezone

    from scim_portal.models import ProvisioningEvent, RequestLog

    payload = create(organization)
    old = timezone.now() - timedelta(days=400)
    RequestLog.objects.create(
        connection_id=payload["id"], method="GET", path="/x", status=200, duration_ms=1,
        created_at=old,
    )  # fmt: skip
    RequestLog.objects.create(
        connection_id=payload["id"], method="GET", path="/y", status=200, duration_ms=1
    )
    ProvisioningEvent.objects.filter(connection_id=payload["id"]).update(created_at=old)
    out, _ = run("prune")
    assert "Deleted 1 request log rows and 2 events." in out
    assert list(RequestLog.objects.values_list("path", flat=True)) == ["/y"]


def test_prune_deletes_old_delivery_log_rows_and_finished_delivery_tasks(settings, db):
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from scim_portal.delivery import endpoints
    from scim_portal.delivery.tasks import sweep
    from scim_portal.models import DeliveryAttempt

    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "WEBHOOK_ALLOW_INSECURE": True}
    endpoint, _ = endpoints.add_endpoint(url="http://127.0.0.1:9/in")
    for days in (31, 1):
        DeliveryAttempt.objects.create(
            endpoint=endpoint, event_type="user.created", outcome="delivered",
            created_at=timezone.now() - timedelta(days=days),
        )  # fmt: skip
    done, waiting = sweep.enqueue(), sweep.enqueue()
    DBTaskResult.objects.filter(id=done.id).update(
        status="SUCCESSFUL", finished_at=timezone.now() - timedelta(days=2)
    )
    run("prune")
    assert DeliveryAttempt.objects.count() == 1
    assert list(DBTaskResult.objects.values_list("id", flat=True)) == [waiting.db_result.id]


# add-endpoint (the contract of issue 18)


def test_add_endpoint_prints_id_and_a_standard_webhooks_secret(db, settings):
    import base64

    from scim_portal.models import WebhookEndpoint

    out, _ = run("add-endpoint", "--url", "https://hooks.example.com/in", "--json")
    payload = json.loads(out)
    assert set(payload) == {"id", "secret"}
    assert payload["secret"].startswith("whsec_")
    assert len(base64.b64decode(payload["secret"].removeprefix("whsec_"))) == 32
    endpoint = WebhookEndpoint.objects.get(pk=payload["id"])
    assert (endpoint.format, endpoint.event_types, endpoint.state) == (
        "standard-webhooks", [], "enabled",
    )  # fmt: skip
    assert payload["secret"] not in str(list(endpoint.secrets.values()))  # sealed, not kept


def test_add_endpoint_refuses_a_private_address(db):
    with pytest.raises(CommandError, match="not a public address"):
        run("add-endpoint", "--url", "https://10.0.0.1/in", "--json")


# issue-credential, revoke-credential: every kind (the contract of issue 16)

TOKEN_URL = "/scim/oauth/token"


def issue(connection_id, kind, *extra):
    out, err = run(
        "issue-credential", "--connection", connection_id, "--kind", kind, *extra, "--json"
    )
    return json.loads(out), err


def basic_header(user, password):
    return basic_auth(user, password)


def test_issue_credential_bearer_json_contract(organization, client):
    connection = create(organization)
    payload, _ = issue(connection["id"], "bearer", "--label", "Okta 2027")
    assert payload["kind"] == "bearer" and payload["label"] == "Okta 2027"
    assert payload["token"].startswith("scimp_")
    assert "password" not in payload and "client_secret" not in payload
    users = client.get(
        f"/scim/v2/{connection['id']}/Users", HTTP_AUTHORIZATION=f"Bearer {payload['token']}"
    )
    assert users.status_code == 200
    assert Credential.objects.by_value(connection["token"]) is not None  # the first one too


def test_issue_credential_basic_opens_scim_with_basic(organization, client):
    connection = create(organization)
    payload, _ = issue(connection["id"], "basic")
    assert payload["kind"] == "basic" and "token" not in payload
    url = f"/scim/v2/{connection['id']}/Users"
    ok = client.get(url, HTTP_AUTHORIZATION=basic_header(payload["username"], payload["password"]))
    assert ok.status_code == 200
    wrong = client.get(url, HTTP_AUTHORIZATION=basic_header(payload["username"], "scimpw_x"))
    assert wrong.status_code == 401


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_issue_credential_client_credentials_contract(organization, client, method):
    """The whole contract: the printed token endpoint takes the printed client id and
    secret and answers RFC 6749 JSON whose access token opens SCIM."""
    connection = create(organization, provider="entra")
    payload, _ = issue(connection["id"], "client-credentials", "--label", "Entra")
    assert payload["kind"] == "client-credentials"
    assert payload["client_id"].startswith("scimc_")
    assert payload["client_secret"].startswith("scimcs_")
    assert payload["token_endpoint"] == "https://saas.example.test/scim/oauth/token"
    path = payload["token_endpoint"].removeprefix("https://saas.example.test")
    form = {"grant_type": "client_credentials"}
    extra = {}
    if method == "client_secret_basic":
        extra["HTTP_AUTHORIZATION"] = basic_header(payload["client_id"], payload["client_secret"])
    else:
        form |= {"client_id": payload["client_id"], "client_secret": payload["client_secret"]}
    token = client.post(path, form, secure=True, **extra)
    assert token.status_code == 200, token.content
    body = token.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    users = client.get(
        f"/scim/v2/{connection['id']}/Users", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}"
    )
    assert users.status_code == 200


def test_a_second_client_secret_keeps_the_client_id(organization):
    connection = create(organization)
    first, _ = issue(connection["id"], "client-credentials")
    second, _ = issue(connection["id"], "client-credentials")
    assert first["client_id"] == second["client_id"]
    assert first["client_secret"] != second["client_secret"]


def test_issue_credential_federated_has_no_secret(organization):
    connection = create(organization, provider="entra")
    payload, _ = issue(
        connection["id"], "federated",
        "--issuer", "https://login.microsoftonline.com/tenant/v2.0",
        "--subject", "app-object-id", "--audience", "api://scim-portal",
    )  # fmt: skip
    assert payload["kind"] == "federated"
    assert payload["client_id"].startswith("scimc_")
    assert payload["token_endpoint"] == "https://saas.example.test/scim/oauth/token"
    assert payload["subject"] == "app-object-id" and payload["jwks_url"] == ""
    assert not {"token", "password", "client_secret"} & set(payload)
    credential = Credential.objects.get(pk=payload["credential_id"])
    assert (credential.kind, credential.issuer, credential.audience) == (
        "federated",
        "https://login.microsoftonline.com/tenant/v2.0",
        "api://scim-portal",
    )


def test_issue_credential_expiry_and_human_output(organization):
    connection = create(organization)
    payload, _ = issue(connection["id"], "basic", "--expires-at", "2999-01-01T00:00:00+00:00")
    credential = Credential.objects.get(pk=payload["credential_id"])
    assert credential.expires_at.year == 2999
    assert payload["expires_at"] == "2999-01-01T00:00:00+00:00"
    out, _ = run("issue-credential", "--connection", connection["id"], "--kind", "bearer")
    assert "shown only this once" in out and "scimp_" in out


def test_issue_credential_without_public_url_prints_paths_and_warns(organization, settings):
    connection = create(organization)
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "PUBLIC_URL": None}
    payload, err = issue(connection["id"], "client-credentials")
    assert payload["token_endpoint"] == TOKEN_URL
    assert "PUBLIC_URL" in err and "token endpoint is relative" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "federated", "--issuer", "https://idp.example"], "subject and audience"),
        (
            ["--kind", "federated", "--issuer", "http://idp.example", "--subject", "s",
             "--audience", "a"],
            "https://",
        ),
        (["--kind", "bearer", "--issuer", "https://idp.example"], "--issuer: only for"),
        (["--kind", "basic", "--expires-at", "2001-01-01T00:00:00Z"], "future"),
        (["--kind", "basic", "--expires-at", "soon"], "ISO 8601"),
        (["--kind", "bearer", "--label", "x" * 101], "label"),
        (
            ["--kind", "federated", "--issuer", "https://idp.example", "--subject", "s" * 501,
             "--audience", "a"],
            "subject",
        ),
    ],
)  # fmt: skip
def test_issue_credential_errors(organization, args, message):
    connection = create(organization)
    with pytest.raises(CommandError, match=message):
        run("issue-credential", "--connection", connection["id"], *args)
    assert Credential.objects.count() == 1  # only the first token


def test_issue_credential_refuses_an_unknown_kind(organization):
    connection = create(organization)
    with pytest.raises(CommandError, match="invalid choice"):
        run("issue-credential", "--connection", connection["id"], "--kind", "client_secret")


def test_revoke_credential_by_id_or_prefix_ends_access(organization, client):
    from scim_portal.models import AccessToken, ProvisioningEvent

    connection = create(organization)
    basic, _ = issue(connection["id"], "basic")
    secret, _ = issue(connection["id"], "client-credentials")
    token = client.post(
        TOKEN_URL,
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_header(secret["client_id"], secret["client_secret"]),
        secure=True,
    ).json()["access_token"]

    out, _ = run("revoke-credential", "--connection", connection["id"],
                 "--credential", basic["username"])  # fmt: skip
    assert "Revoked HTTP Basic" in out
    url = f"/scim/v2/{connection['id']}/Users"
    assert (
        client.get(
            url, HTTP_AUTHORIZATION=basic_header(basic["username"], basic["password"])
        ).status_code
        == 401
    )
    out, _ = run("revoke-credential", "--connection", connection["id"],
                 "--credential", str(secret["credential_id"]))  # fmt: skip
    assert "Revoked OAuth client secret" in out
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert AccessToken.objects.get().revoked_at is not None
    event = ProvisioningEvent.objects.filter(type="credential.revoked").latest("number")
    assert event.actor == {"type": "command", "name": "scim_portal revoke-credential"}
    assert Credential.objects.by_value(connection["token"]) is not None  # untouched

    out, _ = run("revoke-credential", "--connection", connection["id"],
                 "--credential", str(secret["credential_id"]))  # fmt: skip
    assert "already revoked" in out


@pytest.mark.parametrize(
    ("credential", "message"),
    [("scimu_nothere", "no credential with id or prefix"), ("999999", "no credential")],
)
def test_revoke_credential_errors(organization, credential, message):
    connection = create(organization)
    with pytest.raises(CommandError, match=message):
        run("revoke-credential", "--connection", connection["id"], "--credential", credential)


def test_revoke_credential_of_another_connection_is_refused(organization):
    mine, theirs = create(organization), create(organization)
    basic, _ = issue(theirs["id"], "basic")
    with pytest.raises(CommandError, match="no credential"):
        run("revoke-credential", "--connection", mine["id"],
            "--credential", str(basic["credential_id"]))  # fmt: skip
    assert Credential.objects.get(pk=basic["credential_id"]).is_usable


def test_list_connections_shows_every_credential(organization):
    connection = create(organization)
    basic, _ = issue(connection["id"], "basic")
    secret, _ = issue(connection["id"], "client-credentials")
    run("revoke-credential", "--connection", connection["id"], "--credential", basic["username"])
    out, _ = run("list-connections", "--json")
    [row] = json.loads(out)
    assert [t["prefix"] for t in row["tokens"]] == [connection["token"][:14]]  # bearer only
    assert row["oauth_client_id"] == secret["client_id"]
    kinds = {c["kind"]: c for c in row["credentials"]}
    assert set(kinds) == {"bearer", "basic", "client_secret"}
    assert kinds["basic"]["display"] == basic["username"] and kinds["basic"]["state"] == "revoked"
    assert kinds["client_secret"]["display"] == secret["client_secret"][:15] + "…"
    assert kinds["client_secret"]["state"] == "active"
    for raw in (connection["token"], basic["password"], secret["client_secret"]):
        assert raw not in out

    text, _ = run("list-connections")
    assert f"basic {basic['username']}  revoked" in text
    assert f"client_secret {secret['client_secret'][:15]}…  active" in text
    assert f"bearer {connection['token'][:14]}…  active" in text
