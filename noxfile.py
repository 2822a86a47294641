"""The version matrix: ``make test-matrix`` runs every leg but the primary one.

nox rather than tox: the legs differ in more than an interpreter (a Django series, a
constraints file made from ``pyproject.toml``), which reads as a few lines of Python here
and would take a generated ini section per leg there; and nox installs the project's own
dependency groups with the pip it creates, nothing else.

- ``primary``: Python 3.11 + Django 5.2 LTS, what ``make test`` runs (on SQLite and
  PostgreSQL, with the linters) in ``.venv``; here for completeness.
- ``django60``: Python 3.12 + Django 6.0.
- ``django61``: Python 3.13 + Django 6.1.
- ``lowest``: Python 3.11 with every runtime dependency at the lowest version
  ``pyproject.toml`` declares (``LOWEST_EXCEPTIONS`` says which cannot be, and why).

Interpreters are found on ``PATH`` (the Makefile puts pyenv's builds first); none is
downloaded. Every leg runs the whole suite on SQLite; PostgreSQL runs in ``make test``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import nox
from packaging.requirements import Requirement

nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = True
nox.options.reuse_venv = "yes"
nox.options.sessions = ["django60", "django61", "lowest"]

ROOT = Path(__file__).parent

#: Runtime floors the lowest leg cannot install, and why. (django-scim2, which only the
#: import's test needs, wants Django>=5.2.8: this leg leaves that test out instead.)
#: idna: the SCIM client the suite tests with (scim2-client's httpx2 transport) needs
#: idna>=3.18, so the app's own floor (3.7) cannot be installed beside it.
LOWEST_EXCEPTIONS = {"idna": "the test client (httpx2) needs idna>=3.18"}


#: The versions each leg prints before its tests.
SHOWN = {
    "django",
    "djangorestframework",
    "django-guardian",
    "drf-spectacular",
    "scim2-models",
    "django-tasks",
    "django-tasks-db",
}


def _tests(
    session: nox.Session,
    *requirements: str,
    constraints: Path | None = None,
    django_scim2: bool = True,
) -> None:
    """Install the project, the ``test`` group and ``requirements``; run the suite.

    ``django_scim2``: whether the leg's Django is one django-scim2 supports (its import's
    test needs it); otherwise that test is deselected and the leg says so.
    """
    session.install("--quiet", "--upgrade", "pip")
    extra = ["--constraint", str(constraints)] if constraints else []
    groups = ["--group", "test"] + (["--group", "django-scim2"] if django_scim2 else [])
    session.install("--quiet", "--editable", ".", *groups, *requirements, *extra)
    installed = session.run("python", "-m", "pip", "list", "--format=freeze", silent=True)
    session.log(
        "versions: "
        + ", ".join(
            line for line in str(installed).splitlines() if line.split("==")[0].lower() in SHOWN
        )
    )
    arguments = list(session.posargs or ["-q"])
    if not django_scim2:
        session.log("django-scim2 does not support this leg's Django: its import test is left out")
        arguments += ["-m", "not django_scim2"]
    session.run("python", "-m", "pytest", *arguments)


@nox.session(python="3.11")
def primary(session: nox.Session) -> None:
    """Python 3.11, Django 5.2 LTS (``make test`` runs this leg itself)."""
    _tests(session, "django>=5.2,<5.3")


@nox.session(python="3.12")
def django60(session: nox.Session) -> None:
    """Python 3.12, Django 6.0."""
    _tests(session, "django>=6.0,<6.1")


@nox.session(python="3.13")
def django61(session: nox.Session) -> None:
    """Python 3.13, Django 6.1."""
    _tests(session, "django>=6.1,<6.2", django_scim2=False)


def lowest_constraints() -> list[str]:
    """``name==floor`` for every runtime dependency with a lower bound."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = []
    for line in project["dependencies"]:
        requirement = Requirement(line)
        floors = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if floors and requirement.name.lower() not in LOWEST_EXCEPTIONS:
            pins.append(f"{requirement.name}=={floors[0]}")
    return pins


@nox.session(python="3.11")
def lowest(session: nox.Session) -> None:
    """Python 3.11, every runtime dependency at its declared floor."""
    constraints = Path(session.create_tmp()) / "lowest.txt"
    constraints.write_text("\n".join(lowest_constraints()) + "\n")
    session.log("constraints: " + ", ".join(lowest_constraints()))
    _tests(session, constraints=constraints, django_scim2=False)
