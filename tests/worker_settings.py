"""Settings of the task workers that tests/delivery/test_worker_processes.py starts: the
node settings, receivers on 127.0.0.1, and short leases, timeouts and sweeps so that a
killed worker's stream is picked up within seconds."""

from tests.node_settings import *  # noqa: F403
from tests.node_settings import SCIM_PORTAL

SCIM_PORTAL = {
    **SCIM_PORTAL,
    "WEBHOOK_ALLOW_INSECURE": True,
    "WEBHOOK_TIMEOUT": 1.0,
    "WEBHOOK_LEASE_SECONDS": 3,
    "WEBHOOK_RETRY_FIRST_SECONDS": 1,
    "SWEEP_INTERVAL_SECONDS": 1,
}
