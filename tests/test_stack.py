"""The supported versions: one usage error for an unsupported stack, and floors declared the same everywhere."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_migrations.stack import CORE, FLASK, stack_problem

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def test_a_supported_stack_has_no_problem():
    assert stack_problem({"pytest": "9.2.0", "SQLAlchemy": "1.4.54", "alembic": "1.7.7"}, CORE) is None
    assert stack_problem({"pytest": "8.0.2", "SQLAlchemy": "2.1.0b1", "alembic": "1.20.1"}, CORE) is None


def test_one_message_names_each_unsupported_package_its_version_and_the_range():
    found = {"pytest": "9.2.0", "SQLAlchemy": "1.3.24", "alembic": "1.6.5"}
    assert stack_problem(found, CORE) == (
        "this version of pytest-migrations cannot run here: "
        "SQLAlchemy 1.3.24 is installed (supported: SQLAlchemy >= 1.4.49); "
        "alembic 1.6.5 is installed (supported: alembic >= 1.7.7). "
        "Install a supported version (pip install 'SQLAlchemy>=1.4.49' 'alembic>=1.7.7'), "
        "or run without --migrations and the migrator fixture."
    )


def test_a_missing_or_unreadable_version_is_named_too():
    found = {"Flask": "2.2.5", "Flask-SQLAlchemy": None, "Flask-Migrate": "unknown"}
    problem = stack_problem(found, FLASK)
    assert problem is not None
    assert "Flask-SQLAlchemy is not installed (supported: Flask-SQLAlchemy >= 2.5.1)" in problem
    assert "Flask-Migrate unknown is not a version this plugin can read (supported: Flask-Migrate >= 2.5.3)" in problem
    assert "'Flask>=" not in problem


def test_the_floors_are_the_same_in_pyproject_the_oldest_pins_and_the_check():
    """pip's ranges, the oldest stack CI tests and the run-time check must agree, or one of them lies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["flask"]
    floors = {re.split(r"[<>=!\[]", spec)[0].lower(): spec for spec in declared}
    pins = {}
    for line in (ROOT / "requirements" / "oldest.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, pinned = line.partition("==")
            pins[name.strip().lower()] = pinned.strip()
    for name, floor in {**CORE, **FLASK}.items():
        assert floors[name.lower()] == f"{name.lower()}>={floor}", name
        assert pins[name.lower()] == floor, name


# The real thing, not a stand-in: a venv with SQLAlchemy 1.3.24 and the plugin installed with --no-deps,
# built by .ci/run (a few seconds of pip, too slow and too network-bound for every run of this suite).
UNSUPPORTED = os.environ.get("PYTEST_MIGRATIONS_UNSUPPORTED_PYTHON", "")


@pytest.mark.skipif(
    not UNSUPPORTED,
    reason="needs PYTEST_MIGRATIONS_UNSUPPORTED_PYTHON: the python of a venv with SQLAlchemy 1.3.24 (.ci/run builds one)",
)
def test_sqlalchemy_1_3_installed_with_no_deps_is_one_usage_error(tmp_path):
    project = tmp_path / "blog"
    shutil.copytree(ROOT / "examples" / "blog", project, ignore=shutil.ignore_patterns("__pycache__"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["COLUMNS"] = "400"  # summary lines whole
    version = subprocess.run(
        [UNSUPPORTED, "-c", "import sqlalchemy; print(sqlalchemy.__version__)"], capture_output=True, text=True
    )
    assert version.stdout.strip() == "1.3.24", version

    def pytest_in_project(*args: str) -> subprocess.CompletedProcess[str]:
        command = [UNSUPPORTED, "-m", "pytest", "-p", "no:cacheprovider", *args]
        return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=120)

    checks = pytest_in_project("--migrations")
    assert checks.returncode == pytest.ExitCode.USAGE_ERROR, checks.stdout + checks.stderr
    assert "INTERNALERROR" not in checks.stdout + checks.stderr
    assert checks.stderr.strip() == (
        "ERROR: pytest-migrations: this version of pytest-migrations cannot run here: "
        "SQLAlchemy 1.3.24 is installed (supported: SQLAlchemy >= 1.4.49). "
        "Install a supported version (pip install 'SQLAlchemy>=1.4.49'), "
        "or run without --migrations and the migrator fixture."
    )

    # Without --migrations the plugin stays out of the way; only a test using the migrator fixture errors.
    (project / "tests" / "test_plain.py").write_text("def test_plain():\n    pass\n")
    plain = pytest_in_project("-rA")
    assert plain.returncode == pytest.ExitCode.TESTS_FAILED, plain.stdout + plain.stderr
    assert "INTERNALERROR" not in plain.stdout + plain.stderr
    assert re.search(r"^PASSED tests/test_plain.py::test_plain$", plain.stdout, re.M), plain.stdout
    assert re.search(
        r"^ERROR tests/test_author_name_split.py::test_full_name_split - Failed: migrator: pytest-migrations: "
        r"this version of pytest-migrations cannot run here: SQLAlchemy 1.3.24 is installed",
        plain.stdout,
        re.M,
    ), plain.stdout
