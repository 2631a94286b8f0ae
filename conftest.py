"""The project's own test configuration: pytester, builders for small Alembic projects, and readers of their runs."""

from __future__ import annotations

import importlib
import os
import textwrap
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import alembic
import pytest
from packaging.version import Version

from pytest_migrations.checks import CHECKS

pytest_plugins = ["pytester"]

# pytester's in-process runs forget the modules they import, and asyncpg's compiled protocol module
# crashes the interpreter (SIGSEGV) when imported a second time: imported here, before any run's
# snapshot of sys.modules, the async drivers stay imported for the whole session.
for _driver in ("asyncpg", "aiomysql", "aiosqlite", "sqlalchemy.ext.asyncio"):
    importlib.import_module(_driver)

SERVER_URLS = {
    "postgresql": os.environ.get("PYTEST_MIGRATIONS_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    "mysql": os.environ.get("PYTEST_MIGRATIONS_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql"),
}
# tests/test_docker.py runs only where a Docker engine and these images are (.ci/docker sets it:
# "postgresql=IMAGE mysql=IMAGE"). Elsewhere its tests are deselected; where it is set, a missing
# Docker engine fails them.
DOCKER_IMAGES = dict(pair.split("=", 1) for pair in os.environ.get("PYTEST_MIGRATIONS_DOCKER_IMAGES", "").split())
ENGINES = ("sqlite", "postgresql", "mysql")
ALL_ENGINES = ",".join(ENGINES)  # the whole matrix, as --migrations-engines takes it
# Unrelated plugins installed on a developer's machine slow every inner session down: pytester's
# in-process runs forget the modules they imported, so hypothesis alone costs ~2 s a run.
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark")
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
    configure: str = "",
) -> Path:
    """An ordinary `alembic init` project: generic env.py, untouched but for target_metadata.

    `configure`: more keyword arguments for env.py's context.configure, e.g. "compare_server_default=True".
    """
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
    if configure:
        env = env.replace("target_metadata=target_metadata", f"target_metadata=target_metadata, {configure}")
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
        return pytester.runpytest("--migrations", f"--migrations-engines={engines}", *QUIET, *args)

    return run


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each engine of the matrix; a server that is down fails the test, it never skips it."""
    return request.param


@contextmanager
def generated_on_first_use(
    tmp_path_factory: pytest.TempPathFactory, generators: dict[str, Callable[[Path], Path]]
) -> Iterator[Callable[[str], Path]]:
    """A getter for projects made by real commands (alembic init, flask db init, ...): all kinds made at once,
    in parallel threads, the first time one is asked for; for module-scoped fixtures."""
    with ThreadPoolExecutor(max_workers=len(generators)) as pool:
        futures: dict[str, Future[Path]] = {}

        def get(kind: str) -> Path:
            if not futures:
                for name, make in generators.items():
                    futures[name] = pool.submit(make, tmp_path_factory.mktemp(name))
            return futures[kind].result()

        yield get


# ------------------------------------------------------------------ what the installed stack has


def installed(package: str) -> Version:
    """The installed version of `package`, so a test can tell the oldest supported stack from the latest."""
    return Version(version(package))


def needs(package: str, floor: str, what: str) -> pytest.MarkDecorator:
    """Skip a test of `what` on a stack whose `package` is older than `floor` (which lacks it), saying so."""
    found = installed(package)
    return pytest.mark.skipif(
        found < Version(floor), reason=f"{what} needs {package} >= {floor}; this stack has {package} {found}"
    )


# ------------------------------------------------------------------ reading a run's results
# From the in-process run's own reports (result.reprec), not its terminal output: no -v, no parsing.


def item_reports(result: pytest.RunResult, *, node_ids: bool = False) -> dict[str, pytest.TestReport]:
    """Each item's deciding report (a failure in any phase, else the call), by name `test_upgrade[mysql]` or node id."""
    found: dict[str, pytest.TestReport] = {}
    for report in result.reprec.getreports("pytest_runtest_logreport"):
        key = report.nodeid if node_ids else report.nodeid.split("::")[-1]
        previous = found.get(key)
        if previous is not None and previous.nodeid != report.nodeid:
            raise AssertionError(f"{previous.nodeid} and {report.nodeid} share the name {key}: use node_ids=True")
        if previous is None or (previous.outcome == "passed" and (report.when == "call" or report.outcome != "passed")):
            found[key] = report
    return found


def item_outcomes(result: pytest.RunResult, *, node_ids: bool = False) -> dict[str, str]:
    """Item name (or node id) -> passed, failed or skipped, so a whole run is checked in one comparison."""
    return {key: report.outcome for key, report in item_reports(result, node_ids=node_ids).items()}


def item_failure(result: pytest.RunResult, name: str) -> str:
    """What the FAILURES section shows for `name`, which must have failed: the text a user reads."""
    report = item_reports(result)[name]
    assert report.outcome == "failed", f"{name} {report.outcome}, expected it to fail"
    return report.longreprtext


def skip_reason(result: pytest.RunResult, name: str) -> str:
    """Why `name`, which must have been skipped, was: e.g. "not checked: see test_upgrade[sqlite]." for an item
    that could not check because another item of the run failed."""
    report = item_reports(result)[name]
    assert report.outcome == "skipped", f"{name} {report.outcome}, expected it to be skipped"
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return reason.removeprefix("Skipped: ")


def before_short_summary(result: pytest.RunResult) -> str:
    """The output above "short test summary info": pytest prints messages there in full when CI is set, trimmed if not."""
    return result.stdout.str().split(" short test summary info ")[0]


def failure_lines(result: pytest.RunResult, item: str) -> list[str]:
    """The failure text of `item` line by line, so a test can pin every line of the message and their order."""
    return item_failure(result, item).splitlines()


def failed_checks(result: pytest.RunResult, engine: str) -> set[str]:
    """The checks that failed on `engine`, for tests where only the failing engine may fail."""
    return {
        name.split("[")[0]
        for name, outcome in item_outcomes(result).items()
        if outcome == "failed" and f"[{engine}]" in name
    }


def expected_outcomes(engines: str = "sqlite", config: str | None = None, **special: str) -> dict[str, str]:
    """item_outcomes of a run where every built-in item passes but those named (node ids if `config` is given)."""
    unknown = set(special) - set(CHECKS)
    assert not unknown, unknown
    prefix = f"{config}::" if config else ""
    found = {
        f"{prefix}{check}[{engine}]": special.get(check, "passed")
        for engine in engines.split(",")
        for check in CHECKS
        if check != "test_single_head"
    }
    return {f"{prefix}test_single_head": special.get("test_single_head", "passed"), **found}  # one per history


def assert_checks(result: pytest.RunResult, *engines: str, failed: Collection[str] = ()) -> None:
    """Exactly the items in `failed` fail, the other checks of `engines` pass: one message shows all that is wrong."""
    assert engines, "name the engines whose items to check"
    got = item_reports(result)
    wrong = []
    for engine in engines:
        for check in CHECKS:
            name = f"{check}[{engine}]"
            if check == "test_single_head" and name not in got:
                name = check  # one item per history (per engine only where engines have their own versions)
            want = "failed" if name in failed or f"{check}[{engine}]" in failed else "passed"
            report = got.get(name)
            if report is None or report.outcome != want:
                wrong.append(
                    f"{name}: {report.outcome if report else 'missing'}, expected {want}\n"
                    + (report.longreprtext if report else "")
                )
    assert not wrong, "\n".join(wrong)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "docker: needs a Docker engine and PYTEST_MIGRATIONS_DOCKER_IMAGES (.ci/docker); deselected without"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Docker tests are deselected (not skipped) where PYTEST_MIGRATIONS_DOCKER_IMAGES is unset."""
    if DOCKER_IMAGES:
        return
    docker = [item for item in items if item.get_closest_marker("docker")]
    if docker:
        config.hook.pytest_deselected(items=docker)
        items[:] = [item for item in items if not item.get_closest_marker("docker")]
