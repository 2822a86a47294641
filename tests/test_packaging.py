"""What a release uploads: the sdist and the wheel, their contents and their metadata."""

import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """``make wheel``'s build: sdist and wheel, from the sources, without network."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    [wheel] = out.glob("django_scim_portal-*.whl")
    [sdist] = out.glob("django_scim_portal-*.tar.gz")
    return wheel, sdist


def test_twine_check_passes_strictly(dist):
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_wheel_carries_what_a_host_needs_and_nothing_else(dist):
    wheel, _ = dist
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "scim_portal/py.typed" in names
    migrations = {name for name in names if name.startswith("scim_portal/migrations/0")}
    assert len(migrations) == len(list((ROOT / "scim_portal/migrations").glob("0*.py")))
    assert "scim_portal/templates/scim_portal/base.html" in names
    assert "scim_portal/static/scim_portal/scim_portal.css" in names
    for language in ("de", "fr"):  # compiled, so a host needs no gettext
        assert f"scim_portal/locale/{language}/LC_MESSAGES/django.mo" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert all(name.startswith("scim_portal/") or ".dist-info/" in name for name in names)


def test_wheel_metadata_names_versions_links_and_the_readme(dist):
    wheel, _ = dist
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(name).decode())
    assert metadata["Requires-Python"] == ">=3.11"
    classifiers = metadata.get_all("Classifier")
    for expected in (
        "Framework :: Django :: 5.2",
        "Framework :: Django :: 6.0",
        "Framework :: Django :: 6.1",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
    ):
        assert expected in classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    urls = dict(line.split(", ", 1) for line in metadata.get_all("Project-URL"))
    assert {"Homepage", "Documentation", "Repository", "Issues", "Changelog"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "# django-scim-portal" in metadata.get_payload()
    assert any(r.lower().startswith("django") for r in metadata.get_all("Requires-Dist"))


def test_sdist_rebuilds_the_wheel_and_carries_the_docs(dist):
    _, sdist = dist
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for expected in ("pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE", "mkdocs.yml",
                     "docs/index.md", "scim_portal/py.typed"):  # fmt: skip
        assert expected in names
    assert not any(
        name.startswith(("tests/", "example_project/", ".ci/", "bench/")) for name in names
    )


def test_readme_links_are_absolute_so_they_work_on_a_package_index():
    """A relative link or image works on the repository's page but not on the index's."""
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", readme) + re.findall(r'src="([^"]+)"', readme)
    assert targets
    relative = [t for t in targets if not t.startswith(("https://", "http://", "#", "mailto:"))]
    assert relative == []
