"""``scim_portal drift``: its JSON is a contract (issue 19), its table is for people."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from scim_portal.provisioning.drift import KINDS
from tests.drift_seed import COUNTS

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("scim_portal", "drift", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_json_contract(drift_host):
    connection, held = drift_host["connection"], drift_host["users"]["held"]
    data = json.loads(run("--connection", str(connection.pk), "--json"))
    assert set(data) >= {"held", "counts"}
    assert data["counts"] == COUNTS and list(data["counts"]) == list(KINDS)
    [row] = data["held"]
    assert (row["id"], row["userName"], row["kind"]) == (str(held.pk), "held@acme.test",
                                                         "deactivate")  # fmt: skip
    assert "removed within an hour" in row["reason"] and row["heldAt"]
    assert data["connection"] == str(connection.pk) and data["hostMembershipsKnown"] is True
    assert [r["userName"] for r in data["rows"]["role"]["results"]] == [
        "promoted@acme.test", "unset@acme.test"
    ]  # fmt: skip


def test_json_lists_every_held_removal_past_the_limit(drift_host):
    connection = drift_host["connection"]
    data = json.loads(run("--connection", str(connection.pk), "--json", "--limit", "1"))
    assert len(data["rows"]["membership"]["results"]) == 1
    assert data["rows"]["membership"]["next"] is not None
    assert len(data["held"]) == COUNTS["held"]


def test_table_for_people(drift_host):
    out = run("--connection", str(drift_host["connection"].pk), "--limit", "2")
    assert "membership         5" in out and "unmanaged          3" in out
    assert "lost@acme.test" in out or "stale@acme.test" in out
    assert "… 3 more" in out
    assert "removed within an hour" in out


def test_without_members_it_says_what_it_cannot_see(drift_host, settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "MEMBERSHIPS": None}
    connection = drift_host["connection"]
    data = json.loads(run("--connection", str(connection.pk), "--json"))
    assert data["hostMembershipsKnown"] is False
    assert data["counts"] == {**dict.fromkeys(KINDS, 0), "held": 1, "rejected": 1}
    assert "could not be read" in run("--connection", str(connection.pk))


@pytest.mark.parametrize("connection", ["nope", "01234567-89ab-cdef-0123-456789abcdef"])
def test_unknown_connection(db, connection):
    with pytest.raises(CommandError, match="No connection with id"):
        run("--connection", connection, "--json")


@pytest.mark.parametrize("as_json", [True, False])
@pytest.mark.parametrize("limit", ["0", "-3"])
def test_a_limit_below_one_is_refused_in_words(drift_host, limit, as_json):
    args = ["--connection", str(drift_host["connection"].pk), "--limit", limit]
    with pytest.raises(CommandError, match="--limit must be at least 1"):
        run(*args, *(["--json"] if as_json else []))
