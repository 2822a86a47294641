import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from scim_portal.models import Connection, Credential
from tests.factories import DirectoryUserFactory

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
    assert set(payload) == {"id", "scim_url", "token"}
    connection = Connection.objects.get(pk=payload["id"])
    assert connection.account == organization
    assert payload["scim_url"] == f"https://saas.example.test/scim/v2/{payload['id']}"
    assert payload["scim_url"].endswith(f"/scim/v2/{payload['id']}")
    assert Credential.objects.by_value(payload["token"]).connection == connection


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
