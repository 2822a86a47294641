"""The wheel carries what a host needs at run time besides Python modules."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_wheel_contains_templates_static_migrations_and_py_typed(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    [wheel] = tmp_path.glob("django_scim_portal-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "scim_portal/py.typed" in names
    assert "scim_portal/migrations/0001_initial.py" in names
    assert "scim_portal/templates/scim_portal/base.html" in names
    assert "scim_portal/static/scim_portal/scim_portal.css" in names
    assert not any(name.startswith(("tests/", "example_project/")) for name in names)
