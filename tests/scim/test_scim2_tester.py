"""python-scim's RFC compliance checker (scim2-tester) against a live server."""

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from scim_portal.provisioning import create_connection
from tests.factories import OrganizationFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_scim2_tester_reports_no_errors_and_runs_crud(live_server):
    connection, issued = create_connection(
        account=OrganizationFactory(), name="Tester", provider="generic"
    )
    http = httpx2.Client(
        base_url=f"{live_server.url}/scim/v2/{connection.id}",
        headers={"Authorization": f"Bearer {issued.raw}", "Connection": "close"},
        timeout=30,
    )
    client = SyncSCIMClient(http)
    client.discover()
    results = check_server(client)

    failures = [r for r in results if r.status in {Status.ERROR, Status.CRITICAL}]
    report = "\n".join(f"{r.status.name} {r.title}: {r.reason}" for r in failures)
    assert not failures, report

    ran = {(r.title, r.resource_type) for r in results if r.status == Status.SUCCESS}
    for resource_type in ("User", "Group"):
        for operation in ("creation", "query", "replacement", "deletion"):
            assert any(operation in title.lower() and rt == resource_type for title, rt in ran), (
                f"no successful {operation} check for {resource_type}"
            )
