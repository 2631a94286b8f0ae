"""The project's own test configuration: pytester, and builders for small Alembic projects."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import alembic
import pytest

pytest_plugins = ["pytester"]

SERVER_URLS = {
    "postgresql": os.environ.get("PYTEST_MIGRATIONS_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    "mysql": os.environ.get("PYTEST_MIGRATIONS_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql"),
}
ENGINES = ("sqlite", "postgresql", "mysql")
_TEMPLATE = Path(alembic.__file__).parent / "templates" / "generic"

ALEMBIC_INI = """\
[alembic]
script_location = %(here)s/migrations
prepend_sys_path = .
path_separator = os
sqlalchemy.url = sqlite:///never-used.db

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""


def revision(
    rev: str,
    down: str | tuple[str, ...] | None,
    upgrade: str,
    downgrade: str,
    message: str | None = None,
    depends_on: str | None = None,
    branch_labels: str | None = None,
) -> str:
    """The text of a revision file, as `alembic revision` would write it."""
    return (
        f'"""{message or "revision " + rev}\n\nRevision ID: {rev}\nRevises: {down or ""}\n"""\n\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = {rev!r}\ndown_revision = {down!r}\nbranch_labels = {branch_labels!r}\ndepends_on = {depends_on!r}\n\n\n"
        f"def upgrade():\n{textwrap.indent(textwrap.dedent(upgrade).strip() or 'pass', '    ')}\n\n\n"
        f"def downgrade():\n{textwrap.indent(textwrap.dedent(downgrade).strip() or 'pass', '    ')}\n"
    )


def write_project(
    root: Path,
    revisions: dict[str, str],
    models: str | None = None,
    pytest_ini: str = "",
    env_py: str | None = None,
) -> Path:
    """An ordinary `alembic init` project: generic env.py, untouched but for target_metadata."""
    (root / "alembic.ini").write_text(ALEMBIC_INI)
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    (root / "migrations" / "script.py.mako").write_text((_TEMPLATE / "script.py.mako").read_text())
    env = env_py if env_py is not None else (_TEMPLATE / "env.py").read_text()
    if models is not None and env_py is None:
        env = env.replace("target_metadata = None", "from models import metadata as target_metadata")
        (root / "models.py").write_text(
            "import sqlalchemy as sa\n\nmetadata = sa.MetaData()\n\n" + textwrap.dedent(models)
        )
    (root / "migrations" / "env.py").write_text(env)
    for name, text in revisions.items():
        (versions / f"{name}.py").write_text(text)
    (root / "pytest.ini").write_text("[pytest]\n" + textwrap.dedent(pytest_ini))
    return root


@pytest.fixture
def project(pytester: pytest.Pytester) -> Callable[..., Path]:
    """Write a small Alembic project into the pytester directory."""

    def make(revisions: dict[str, str], models: str | None = None, **kwargs: str) -> Path:
        return write_project(pytester.path, revisions, models, **kwargs)

    return make


@pytest.fixture
def run_checks(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Callable[..., pytest.RunResult]:
    """Run `pytest --migrations` in the pytester directory on the given engines (real servers)."""
    for engine, url in SERVER_URLS.items():
        monkeypatch.setenv(f"PYTEST_MIGRATIONS_{engine.upper()}_URL", url)

    def run(*args: str, engines: str = "sqlite") -> pytest.RunResult:
        # Unrelated plugins installed on a developer's machine slow every inner session down.
        quiet = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark")
        return pytester.runpytest("--migrations", f"--migrations-engines={engines}", *quiet, *args)

    return run


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each engine of the matrix; a server that is down fails the test, it never skips it."""
    return request.param
