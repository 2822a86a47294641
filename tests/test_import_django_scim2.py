"""The import from django-scim2, tested in a django-scim2 host: tests/django_scim2_host/ runs
in a pytest process of its own (that host's user model is the benchmark peer's, not this
suite's). It needs django-scim2, the `django-scim2` dependency group (Django >=5.2.8,<6.1):
the matrix's legs outside that range deselect it (``-m "not django_scim2"``, noxfile.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HOST = "tests/django_scim2_host"

pytestmark = [pytest.mark.slow, pytest.mark.django_scim2]


def test_the_import_from_django_scim2_and_the_next_okta_sync_pass_in_a_django_scim2_host():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", HOST, f"--confcutdir={HOST}", "-p", "no:cacheprovider",
         "--ds=tests.django_scim2_host.settings", "-q"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout.splitlines()[-1]
