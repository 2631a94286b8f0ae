"""Every env.py layout a user really has, run unmodified under `pytest --migrations` (issue 12).

Each project is made at test time the way a user makes it, with Alembic's own commands in a
subprocess: `alembic init -t TEMPLATE migrations`, then the only edits the Alembic tutorial asks
for (models.py, `target_metadata` in env.py, the development URL in alembic.ini), then
`alembic revision --autogenerate` twice with `alembic upgrade head` in between, against a
development SQLite database (`sqlite+aiosqlite://` for the async templates) that is deleted
afterwards, so a test can tell whether a run created it again. Each kind is generated once per
module, all kinds in parallel, and copied into the pytester directory.

The env.py styles no template produces (an Engine expected in config.attributes, the pysqlite
transactional-DDL recipe, an env.py that must run in a worker thread) are the generic env.py
`alembic init` wrote, with the small edit a user would have made, applied by the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import alembic
import pytest
import sqlalchemy as sa
from packaging.version import Version
from sqlalchemy import event

from conftest import (
    ALL_ENGINES,
    ENGINES,
    QUIET,
    SERVER_URLS,
    assert_checks,
    expected_outcomes,
    generated_on_first_use,
    installed,
    item_failure,
    item_outcomes,
    needs,
)
from pytest_migrations.checks import CHECKS

_TEMPLATES = Path(alembic.__file__).parent / "templates"

# ------------------------------------------------------------------ the models, in the stages they were generated from

HEADER = """\
import datetime
from decimal import Decimal

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import declarative_base
"""
BASE = """

Base = declarative_base()
"""
# No index on a foreign key column: the generated downgrade would drop it before the table, which
# MySQL refuses (error 1553). The unique constraint on (author_id, title) serves the foreign key there.
AUTHORS_AND_BOOKS = """

class Author(Base):
    __tablename__ = "author"

    id = Column(Integer, primary_key=True)
    name = Column(String(80), nullable=False)
    email = Column(String(120), unique=True, nullable=False)
    bio = Column(Text)
    active = Column(Boolean, nullable=False)
    joined_at = Column(DateTime, nullable=False)


class Book(Base):
    __tablename__ = "book"
    __table_args__ = (UniqueConstraint("author_id", "title", name="uq_book_author_title"),)

    id = Column(Integer, primary_key=True)
    title = Column(String(200), index=True, nullable=False)
    price = Column(Numeric(10, 2), nullable=False)
    author_id = Column(ForeignKey("author.id"), nullable=False)
"""
PUBLISHED_AT = "    published_at = Column(DateTime)\n"  # on Book
REVIEWS = """

class Review(Base):
    __tablename__ = "review"

    id = Column(Integer, primary_key=True)
    book_id = Column(ForeignKey("book.id"), nullable=False)
    rating = Column(Integer, nullable=False)
    body = Column(Text)
"""
STAGE_1 = HEADER + BASE + AUTHORS_AND_BOOKS
STAGE_2 = STAGE_1 + PUBLISHED_AT + REVIEWS
STAGES = [(STAGE_1, "authors and books"), (STAGE_2, "reviews and publication dates")]

# The multidb template: engine1 holds the catalog, engine2 the accounts, each with its own MetaData.
MULTIDB_BASES = """

CatalogBase = declarative_base()


AccountsBase = declarative_base()


meta1 = CatalogBase.metadata  # engine1
meta2 = AccountsBase.metadata  # engine2
"""
ACCOUNT = """

class Account(AccountsBase):
    __tablename__ = "account"

    id = Column(Integer, primary_key=True)
    email = Column(String(120), unique=True, nullable=False)
    display_name = Column(String(80), nullable=False)
    is_staff = Column(Boolean, nullable=False)
    credit = Column(Numeric(10, 2), nullable=False)
    created_at = Column(DateTime, nullable=False)
"""
LAST_SEEN = "    last_seen = Column(DateTime)\n"  # on Account
NICKNAME = "    nickname = Column(String(40))\n"  # on Account, never migrated
LOGIN = """

class Login(AccountsBase):
    __tablename__ = "login"
    __table_args__ = (UniqueConstraint("account_id", "at", name="uq_login_account_at"),)

    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("account.id"), nullable=False)
    at = Column(DateTime, index=True, nullable=False)
    address = Column(String(45), nullable=False)
"""
CATALOG = AUTHORS_AND_BOOKS.replace("(Base)", "(CatalogBase)")
CATALOG_REVIEWS = REVIEWS.replace("(Base)", "(CatalogBase)")
MULTIDB_STAGE_1 = HEADER + MULTIDB_BASES + CATALOG + ACCOUNT + LOGIN
MULTIDB_STAGE_2 = HEADER + MULTIDB_BASES + CATALOG + ACCOUNT + LAST_SEEN + LOGIN + CATALOG_REVIEWS
MULTIDB_STAGES = [(MULTIDB_STAGE_1, "catalog and accounts"), (MULTIDB_STAGE_2, "reviews and last seen")]

# What the tutorial tells a user to write in env.py, in place of the template's line.
TUTORIAL_METADATA = ("target_metadata = None", "from models import Base\n\ntarget_metadata = Base.metadata")
MULTIDB_METADATA = (
    "target_metadata = {}",
    'import models\n\ntarget_metadata = {"engine1": models.meta1, "engine2": models.meta2}',
)
TEMPLATE_URL = "sqlalchemy.url = driver://user:pass@localhost/dbname\n"

# ------------------------------------------------------------------ generating the projects


def edit(text: str, old: str, new: str) -> str:
    """`text` with `old` (which must occur exactly once) replaced: an edit that misses fails loudly."""
    assert text.count(old) == 1, f"expected exactly one {old!r} in:\n{text}"
    return text.replace(old, new)


def edit_file(path: Path, old: str, new: str) -> None:
    path.write_text(edit(path.read_text(), old, new))


def alembic_ok(cwd: Path, *args: str) -> str:
    """`alembic ARGS`, as a developer runs it in the project directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_MIGRATIONS")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "alembic", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"alembic {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def autogenerate(root: Path, stages: list[tuple[str, str]]) -> None:
    """Write each stage of models.py and autogenerate a revision for it, the database at head before each."""
    for number, (models, message) in enumerate(stages):
        (root / "models.py").write_text(models)
        if number:
            alembic_ok(root, "upgrade", "head")  # autogenerate wants the database at head
        alembic_ok(root, "revision", "--autogenerate", "-m", message)


def tidy(root: Path) -> Path:
    """Delete the development databases and bytecode the commands left behind."""
    for made in root.glob("*.db"):
        made.unlink()
    for cache in list(root.rglob("__pycache__")):
        shutil.rmtree(cache)
    return root


def _single(template: str, url: str) -> Callable[[Path], Path]:
    def make(root: Path) -> Path:
        alembic_ok(root, "init", "-t", template, "migrations")
        edit_file(root / "migrations" / "env.py", *TUTORIAL_METADATA)
        edit_file(root / "alembic.ini", TEMPLATE_URL, f"sqlalchemy.url = {url}\n")
        autogenerate(root, STAGES)
        return tidy(root)

    return make


def _multidb(root: Path) -> Path:
    alembic_ok(root, "init", "-t", "multidb", "migrations")
    edit_file(root / "migrations" / "env.py", *MULTIDB_METADATA)
    ini = root / "alembic.ini"
    edit_file(ini, "[engine1]\n" + TEMPLATE_URL, "[engine1]\nsqlalchemy.url = sqlite:///catalog.db\n")
    edit_file(
        ini,
        "[engine2]\nsqlalchemy.url = driver://user:pass@localhost/dbname2\n",
        "[engine2]\nsqlalchemy.url = sqlite:///accounts.db\n",
    )
    autogenerate(root, MULTIDB_STAGES)
    return tidy(root)


# The template's commented-out example line (its last directory differs between Alembic versions).
VERSION_LOCATIONS = re.compile(r"^# version_locations = %\(here\)s/bar:%\(here\)s/bat:\S+\n", re.M)


def _per_dialect(root: Path) -> Path:
    """One history per dialect: migrations/versions/sqlite (2 revisions), migrations/versions/postgresql (3).

    alembic.ini is left pointing at the SQLite history, the developer's everyday one; the PostgreSQL
    history was generated by pointing it at the other directory for a while.
    """
    alembic_ok(root, "init", "-t", "generic", "migrations")
    edit_file(root / "migrations" / "env.py", *TUTORIAL_METADATA)
    ini = root / "alembic.ini"
    edit_file(ini, TEMPLATE_URL, "sqlalchemy.url = sqlite:///dev.db\n")
    # Alembic < 1.9 writes an inline comment after `version_path_separator = os` that it then cannot read
    # once version_locations is set: the fix its error message leads a developer to.
    template_ini = re.sub(r"^(version_path_separator = os)\s+#.*$", r"\1", ini.read_text(), flags=re.M)
    postgresql_stages = [
        STAGES[0],
        (STAGE_1 + PUBLISHED_AT, "publication dates"),
        (STAGE_2, "reviews"),
    ]
    for dialect, stages in (("postgresql", postgresql_stages), ("sqlite", STAGES)):
        (root / "migrations" / "versions" / dialect).mkdir()
        located, count = VERSION_LOCATIONS.subn(
            f"version_locations = %(here)s/migrations/versions/{dialect}\n", template_ini
        )
        assert count == 1, template_ini
        ini.write_text(located)
        autogenerate(root, stages)
        tidy(root)
    return root


NEEDS_PYPROJECT_TEMPLATES = needs("alembic", "1.16", "the pyproject templates ([tool.alembic])")
HAS_PYPROJECT_TEMPLATES = installed("alembic") >= Version("1.16")
GENERATORS: dict[str, Callable[[Path], Path]] = {
    "generic": _single("generic", "sqlite:///dev.db"),
    "async": _single("async", "sqlite+aiosqlite:///dev.db"),
    "multidb": _multidb,
    "per_dialect": _per_dialect,
}
if HAS_PYPROJECT_TEMPLATES:
    GENERATORS["pyproject"] = _single("pyproject", "sqlite:///dev.db")
    GENERATORS["pyproject_async"] = _single("pyproject_async", "sqlite+aiosqlite:///dev.db")
TEMPLATE_KINDS = [
    "generic",
    "async",
    pytest.param("pyproject", marks=NEEDS_PYPROJECT_TEMPLATES),
    pytest.param("pyproject_async", marks=NEEDS_PYPROJECT_TEMPLATES),
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Path]]:
    """The generated project of a kind; all kinds are generated at once, in parallel, on first use."""
    with generated_on_first_use(tmp_path_factory, GENERATORS) as get:
        yield get


@pytest.fixture
def alembic_project(pytester: pytest.Pytester, generated: Callable[[str], Path]) -> Callable[..., Path]:
    """Copy a generated project into the pytester directory, with this test's pytest.ini.

    pytest.ini is a file of its own, so the rootdir is the project directory and a pyproject.toml
    stays Alembic's alone.
    """

    def make(kind: str, ini: str = "") -> Path:
        for child in generated(kind).iterdir():
            if child.is_dir():
                shutil.copytree(child, pytester.path / child.name)
            else:
                shutil.copy2(child, pytester.path / child.name)
        (pytester.path / "pytest.ini").write_text("[pytest]\n" + textwrap.dedent(ini))
        return pytester.path

    return make


# ------------------------------------------------------------------ reading a project and a run


def history(versions: Path) -> list[Path]:
    """The revision files of `versions` in upgrade order (one linear history)."""
    parents: dict[str | None, Path] = {}
    for path in versions.glob("*.py"):
        text = path.read_text()
        down = re.search(r"^down_revision(?:: .*)? = (None|'(\w+)')$", text, re.M)  # typed since Alembic 1.11
        assert down, path
        parents[down.group(2)] = path
    ordered, parent = [], None
    while parent in parents:
        ordered.append(parents[parent])
        parent = re.search(r"^revision(?:: str)? = '(\w+)'$", ordered[-1].read_text(), re.M).group(1)
    assert len(ordered) == len(parents), f"not one linear history: {sorted(parents, key=str)}"
    return ordered


def dev_databases(root: Path) -> list[str]:
    """Database files in the project directory: the development ones were deleted after generation."""
    return sorted(p.name for p in root.glob("*.db"))


def walked(result: pytest.RunResult, revisions: int, engines: str = ALL_ENGINES) -> None:
    """The summary says each engine walked `revisions` revisions once (engines in the summary's order)."""
    result.stdout.fnmatch_lines(
        ["*pytest-migrations summary*"]
        + [f"{engine}: {revisions} revisions walked in *s (1 walk)" for engine in sorted(engines.split(","))]
    )


@pytest.fixture
def statements() -> Iterator[list[tuple[sa.URL, str]]]:
    """(database URL, SQL) of every statement any engine in this process runs during the test."""
    seen: list[tuple[sa.URL, str]] = []

    def record(conn: sa.Connection, _cursor, statement: str, *_args) -> None:
        seen.append((conn.engine.url, statement))

    event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(sa.engine.Engine, "before_cursor_execute", record)


def databases_creating(seen: list[tuple[sa.URL, str]], table: str, engine: str) -> set[str]:
    """The `engine` databases a CREATE TABLE for `table` ran in."""
    pattern = re.compile(rf"\s*CREATE TABLE [`\"]?{table}\b", re.I)
    return {
        str(url.database) for url, statement in seen if url.get_backend_name() == engine and pattern.match(statement)
    }


# ------------------------------------------------------------------ the projects are Alembic's own


def test_generated_projects_are_alembics_own(generated):
    """What the other tests run is env.py as `alembic init` wrote it but for target_metadata; no dev database is left."""
    for kind in GENERATORS:  # the pyproject kinds only where Alembic has their templates
        root = generated(kind)
        template = "generic" if kind == "per_dialect" else kind
        change = MULTIDB_METADATA if kind == "multidb" else TUTORIAL_METADATA
        assert (root / "migrations" / "env.py").read_text() == edit(
            (_TEMPLATES / template / "env.py").read_text(), *change
        )
        assert dev_databases(root) == []
        assert ("pyproject.toml" in os.listdir(root)) == kind.startswith("pyproject")
        if kind == "per_dialect":
            assert len(history(root / "migrations" / "versions" / "sqlite")) == 2
            assert len(history(root / "migrations" / "versions" / "postgresql")) == 3
            assert not list((root / "migrations" / "versions").glob("*.py"))
        else:
            assert len(history(root / "migrations" / "versions")) == 2


# ------------------------------------------------------------------ 1. the single-database templates


@pytest.mark.parametrize("kind", TEMPLATE_KINDS)
def test_template_passes_on_every_engine(alembic_project, run_checks, kind):
    """`alembic init -t KIND`: all seven checks pass on SQLite, PostgreSQL and MySQL, env.py untouched."""
    root = alembic_project(kind)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES)
    assert result.ret == 0
    walked(result, 2)
    assert dev_databases(root) == []
    if kind.startswith("pyproject"):
        assert "[tool.alembic]" in (root / "pyproject.toml").read_text()  # still Alembic's file alone
        assert "[tool.pytest" not in (root / "pyproject.toml").read_text()


@NEEDS_PYPROJECT_TEMPLATES
def test_pyproject_named_with_migrations_config(alembic_project, run_checks):
    """`--migrations-config pyproject.toml`: the file holding [tool.alembic] names the project."""
    root = alembic_project("pyproject")
    result = run_checks("--migrations-config", "pyproject.toml")
    assert_checks(result, "sqlite")
    assert result.ret == 0
    walked(result, 2, "sqlite")
    assert dev_databases(root) == []


# ------------------------------------------------------------------ 2. the multidb template


def test_multidb_passes_on_every_engine(alembic_project, run_checks, statements):
    """`databases = engine1, engine2`: each database is walked in its own throwaway database, on every engine."""
    root = alembic_project("multidb")
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES)
    assert result.ret == 0
    walked(result, 2)
    assert dev_databases(root) == []
    for engine in ENGINES:
        catalog = databases_creating(statements, "author", engine)
        accounts = databases_creating(statements, "account", engine)
        assert catalog, engine  # the walk's and the model's databases
        assert accounts, engine
        assert not catalog & accounts, (engine, catalog & accounts)


def test_multidb_model_change_in_engine2_names_it(alembic_project, run_checks):
    """A column added to an engine2 model with no migration: the model check fails and names engine2."""
    root = alembic_project("multidb")
    edit_file(root / "models.py", LAST_SEEN, LAST_SEEN + NICKNAME)
    result = run_checks()
    assert item_outcomes(result) == expected_outcomes(test_model_matches_migrations="failed")
    message = item_failure(result, "test_model_matches_migrations[sqlite]")
    assert "[bind engine2]" in message
    assert "account.nickname: absent at head, present in the model" in message
    assert "engine1" not in message


def test_multidb_model_changes_in_both_databases_are_each_named(alembic_project, run_checks):
    """Differences in engine1 and in engine2: the model check names both, not only the first it meets."""
    root = alembic_project("multidb")
    edit_file(root / "models.py", LAST_SEEN, LAST_SEEN + NICKNAME)
    edit_file(
        root / "models.py", "    bio = Column(Text)\n", "    bio = Column(Text)\n    website = Column(String(200))\n"
    )
    result = run_checks()
    message = item_failure(result, "test_model_matches_migrations[sqlite]")
    assert "[bind engine1]" in message and "author.website: absent at head, present in the model" in message
    assert "[bind engine2]" in message and "account.nickname: absent at head, present in the model" in message


def test_multidb_data_coverage_counts_every_database(alembic_project, run_checks):
    """The coverage line is of both databases' tables (author and book, account and login), not the last one's."""
    alembic_project("multidb")
    result = run_checks()
    assert_checks(result, "sqlite")
    result.stdout.fnmatch_lines(
        ["  data coverage: tables 4/4 seeded, columns 20/20 held a value, revisions 2/2 checked"]
    )


def test_multidb_downgrade_in_engine2_forgets_a_drop(alembic_project, run_checks):
    """engine2's downgrade of the second revision leaves account.last_seen behind: the failures name engine2.

    The first revision's downgrade drops the whole table, so base is clean (test_downgrade and
    test_roundtrip pass); the stepwise check sees the column left behind and the upgrade run again
    fail on it; the cycle is undone and the walk goes on, rows and all: the model and data checks hold.
    """
    root = alembic_project("multidb")
    second = history(root / "migrations" / "versions")[1]
    edit_file(second, "    op.drop_column('account', 'last_seen')\n", "    pass\n")
    result = run_checks()
    assert item_outcomes(result) == expected_outcomes(test_stepwise_roundtrip="failed")
    stepwise = item_failure(result, "test_stepwise_roundtrip[sqlite]")
    assert f"downgrade of {second.name.split('_')[0]} " in stepwise
    assert "[bind engine2] does not restore the schema it started from" in stepwise
    assert "account.last_seen: present after downgrade of" in stepwise
    for check in ("test_stepwise_roundtrip",):
        assert "engine1" not in item_failure(result, f"{check}[sqlite]"), check


# ------------------------------------------------------------------ 3. env.py styles users write themselves

# As the installed Alembic's generic template spells it (older ones pass no default to get_section).
ENGINE_FROM_CONFIG = re.search(
    r"^    connectable = engine_from_config\(\n.*?^    \)\n",
    (_TEMPLATES / "generic" / "env.py").read_text(),
    re.M | re.S,
).group(0)
CONNECT = "    with connectable.connect() as connection:\n"


def generic_env_py(root: Path, old: str, new: str, imports: str = "") -> None:
    """Apply one edit (and any imports) to the env.py `alembic init -t generic` wrote."""
    env = root / "migrations" / "env.py"
    text = edit(env.read_text(), old, new)
    env.write_text(edit(text, "from alembic import context\n", imports + "from alembic import context\n"))


def test_env_py_expecting_an_engine_in_attributes(alembic_project, run_checks):
    """The older cookbook recipe: config.attributes["connection"] is taken for an Engine and `.connect()`ed."""
    root = alembic_project("generic")
    generic_env_py(
        root,
        ENGINE_FROM_CONFIG,
        '    connectable = config.attributes.get("connection", None)\n'
        "    if connectable is None:\n" + textwrap.indent(ENGINE_FROM_CONFIG, "    "),
    )
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES)
    assert result.ret == 0
    walked(result, 2)


PYSQLITE_TRANSACTIONAL_DDL = """\
    @event.listens_for(connectable, "connect")
    def do_connect(dbapi_connection, connection_record):
        # disable pysqlite's emitting of the BEGIN statement entirely.
        # also stops it from emitting COMMIT before any DDL.
        dbapi_connection.isolation_level = None

    @event.listens_for(connectable, "begin")
    def do_begin(conn):
        # emit our own BEGIN
        conn.exec_driver_sql("BEGIN")

    with connectable.begin() as connection:
"""


def test_env_py_with_its_own_transaction_pysqlite_recipe(alembic_project, run_checks):
    """SQLAlchemy's pysqlite transactional-DDL recipe: env.py begins the transaction before run_migrations."""
    root = alembic_project("generic")
    generic_env_py(root, CONNECT, PYSQLITE_TRANSACTIONAL_DDL, imports="from sqlalchemy import event\n")
    result = run_checks()
    assert_checks(result, "sqlite")
    assert result.ret == 0
    walked(result, 2, "sqlite")


NEEDS_A_WORKER_THREAD = """\
    if threading.current_thread() is threading.main_thread():
        raise RuntimeError("env.py must run in a worker thread: the main thread runs the app's event loop")
"""
# The hook as the plugin's documentation writes it: AnyIO runs env.py in a worker thread.
RUN_ENV_IN_A_THREAD = """
import anyio
import anyio.to_thread


def pytest_migrations_run_env(run):
    anyio.run(anyio.to_thread.run_sync, run)
"""


def test_env_py_that_must_run_in_a_worker_thread(alembic_project, run_checks, pytester):
    """Without the hook every check that runs env.py fails with env.py's error; with it, all pass."""
    root = alembic_project("generic")
    generic_env_py(root, ENGINE_FROM_CONFIG, NEEDS_A_WORKER_THREAD + ENGINE_FROM_CONFIG, imports="import threading\n")
    result = run_checks()
    assert item_outcomes(result) == expected_outcomes(
        **{check: "failed" if check == "test_upgrade" else "skipped" for check in CHECKS[1:]}
    )
    assert "env.py must run in a worker thread" in item_failure(result, "test_upgrade[sqlite]")

    pytester.makeconftest(RUN_ENV_IN_A_THREAD)
    result = run_checks()
    assert_checks(result, "sqlite")
    assert result.ret == 0
    walked(result, 2, "sqlite")


PER_DIALECT_INI = """\
migrations_version_locations =
    sqlite: migrations/versions/sqlite
    postgresql: migrations/versions/postgresql
"""


def test_per_dialect_histories(alembic_project, run_checks):
    """migrations_version_locations: each engine walks its own directory of revisions (2 on SQLite, 3 on PostgreSQL)."""
    alembic_project("per_dialect", ini=PER_DIALECT_INI)
    result = run_checks(engines="sqlite,postgresql")
    assert_checks(result, "sqlite", "postgresql")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*pytest-migrations summary*",
            "postgresql: 3 revisions walked in *s (1 walk)",
            "sqlite: 2 revisions walked in *s (1 walk)",
        ]
    )


def test_per_dialect_histories_with_an_unknown_engine_is_a_usage_error(alembic_project, run_checks):
    alembic_project("per_dialect", ini=PER_DIALECT_INI + "    oracle: migrations/versions/oracle\n")
    result = run_checks(engines="sqlite,postgresql")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert item_outcomes(result) == {}
    errors = result.stderr.str()
    assert "migrations_version_locations" in errors
    assert "'oracle'" in errors


def _warn_in_second_revision(root: Path) -> None:
    second = history(root / "migrations" / "versions")[1]
    edit_file(second, "from alembic import op\n", "import warnings\n\nfrom alembic import op\n")
    # After `def upgrade()` and its docstring (which Alembic writes since 1.14).
    text, count = re.subn(
        r'^(def upgrade\(\).*:\n(?:    """Upgrade schema."""\n)?)',
        r'\1    warnings.warn("old API", DeprecationWarning)\n',
        second.read_text(),
        flags=re.M,
    )
    assert count == 1, text
    second.write_text(text)


def test_warning_from_a_revision_under_filterwarnings_error(alembic_project, run_checks):
    """`filterwarnings = error` and a revision that warns: the checks pass and the warning is reported."""
    root = alembic_project("generic", ini="filterwarnings = error\n")
    _warn_in_second_revision(root)
    # The in-process run imports pytest_migrations before pytest can mark it for assertion rewriting,
    # a warning a user's own process never gives; under `error` it would stop the run before it starts.
    result = run_checks("-W", "ignore::pytest.PytestAssertRewriteWarning")
    assert_checks(result, "sqlite")
    assert result.ret == 0
    output = result.stdout.str()
    assert "warnings summary" in output
    assert "old API" in output[output.index("warnings summary") :]


@pytest.mark.parametrize(
    "python_options, pytest_options",
    [([], ["-p", "no:warnings"]), (["-W", "error::UserWarning"], [])],
    ids=["warnings-plugin-off", "python-W"],
)
def test_a_revision_that_warns_under_python_s_own_filters(alembic_project, pytester, python_options, pytest_options):
    """Without pytest's warnings plugin, or with `python -W`, Python's default filters are in force; some
    of them name a module as a plain string, not a regex."""
    root = alembic_project("generic")
    _warn_in_second_revision(root)
    result = pytester.run(
        sys.executable, *python_options, "-m", "pytest", "--migrations", "-p", "no:cacheprovider", *pytest_options
    )
    result.assert_outcomes(passed=len(CHECKS))
    assert "Error" not in result.stdout.str()


# An application that reads its database URL once, into cached settings, and whose env.py uses them.
CACHED_SETTINGS = """\
import functools
import os


class Settings:
    def __init__(self):
        self.database_url = os.environ.get("APP_DATABASE_URL", "postgresql+psycopg2://app@prod-db.internal/app")


@functools.lru_cache
def get_settings():
    return Settings()
"""
SETTINGS_ENGINE = "    connectable = create_engine(get_settings().database_url, poolclass=pool.NullPool)\n"
# The two lines the README shows: the hook points the cached settings at the throwaway database.
POINT_SETTINGS = """
def pytest_migrations_run_env(run):
    from app_settings import get_settings
    get_settings().database_url = run.url
    run()
"""


def with_cached_settings(root: Path) -> None:
    """The application's settings module, and env.py connecting with what it cached."""
    (root / "app_settings.py").write_text(CACHED_SETTINGS)
    generic_env_py(
        root,
        ENGINE_FROM_CONFIG,
        SETTINGS_ENGINE,
        imports="from sqlalchemy import create_engine\nfrom app_settings import get_settings\n",
    )


def test_settings_read_at_import_are_pointed_at_the_throwaway_database_by_the_run_env_hook(
    alembic_project, run_checks, pytester
):
    root = alembic_project("generic")
    with_cached_settings(root)
    result = run_checks()  # without the hook, the guard refuses the application's real database
    text = item_failure(result, "test_upgrade[sqlite]")
    assert "env.py connected to the postgresql database 'app', not to the throwaway database" in text
    assert "point them at run.url in a pytest_migrations_run_env hook" in text
    pytester.makeconftest(POINT_SETTINGS)
    result = run_checks(engines="sqlite,postgresql")
    assert_checks(result, "sqlite", "postgresql")
    walked(result, 2, "sqlite")


def test_settings_cached_at_import_follow_migrations_url_env_without_a_hook(alembic_project, run_checks):
    """The same application, its variable named in migrations_url_env: its modules are imported afresh for
    each run of env.py, while the variable holds that engine's throwaway URL; no conftest.py."""
    root = alembic_project("generic", ini="migrations_url_env = APP_DATABASE_URL\n")
    with_cached_settings(root)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES)
    walked(result, 2)


def test_the_run_env_hook_gets_every_binds_url(alembic_project, run_checks, pytester):
    alembic_project("multidb")
    pytester.makeconftest(
        """
        import json, pathlib

        def pytest_migrations_run_env(run):
            assert run.url in run.urls.values()
            pathlib.Path("urls.json").open("a").write(json.dumps(sorted(run.urls)) + "\\n")
            run()
        """
    )
    result = run_checks()
    assert_checks(result, "sqlite")
    seen = {line for line in (pytester.path / "urls.json").read_text().splitlines()}
    assert seen == {'["engine1", "engine2"]'}


RESOURCE_VERSION_LOCATIONS = """\
migrations_version_locations =
    sqlite: migrations:versions/sqlite
    postgresql: %(here)s/migrations/versions/postgresql
"""


def test_per_dialect_histories_named_as_alembic_names_version_locations(alembic_project, run_checks):
    """A package resource (`package:path`, as Alembic's version_locations takes it) and `%(here)s`."""
    root = alembic_project("per_dialect", ini=RESOURCE_VERSION_LOCATIONS)
    (root / "migrations" / "__init__.py").write_text("")  # the migrations directory is a package
    result = run_checks(engines="sqlite,postgresql")
    assert_checks(result, "sqlite", "postgresql")
    result.stdout.fnmatch_lines(
        ["postgresql: 3 revisions walked in *s (1 walk)", "sqlite: 2 revisions walked in *s (1 walk)"]
    )


# ------------------------------------------------------------------ async-only stacks

_BLOCKER = """\
import sys

import sqlalchemy as sa

# This environment has no {blocked} driver: as if they were never installed (find_spec says None).
for name in {modules!r}:
    sys.modules[name] = None


def record(dbapi_connection, record):
    with open("drivers.txt", "a") as out:
        out.write(type(getattr(dbapi_connection, "_adapted", dbapi_connection)).__module__ + "\\n")


sa.event.listen(sa.pool.Pool, "connect", record)
"""
# aiomysql is built on PyMySQL: without it, the MySQL stack that is async only is asyncmy's.
SYNC_DRIVER_MODULES = ("psycopg2", "psycopg", "pg8000", "MySQLdb", "pymysql", "mysql", "aiomysql")
ASYNC_DRIVER_MODULES = ("asyncpg", "asyncmy")


def _run_without(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, blocked: str, modules: tuple[str, ...]):
    """`pytest --migrations` on every engine in a process where `modules` are not installed, with server URLs that
    name no driver, as a user writes them; (the run, {item: outcome}, the modules of the connections made)."""
    pytester.makepyfile(without_drivers=_BLOCKER.format(blocked=blocked, modules=modules))
    for engine, url in SERVER_URLS.items():
        monkeypatch.setenv(
            f"PYTEST_MIGRATIONS_{engine.upper()}_URL", str(sa.engine.make_url(url).set(drivername=engine))
        )
    result = pytester.runpytest_subprocess(
        "-p", "without_drivers", "--migrations", f"--migrations-engines={ALL_ENGINES}", "-rA", *QUIET
    )
    outcomes = dict(
        (match.group(2), match.group(1).lower())
        for match in re.finditer(r"^(PASSED|FAILED|SKIPPED|ERROR) \S*::(\S+)", result.stdout.str(), re.M)
    )
    drivers = (pytester.path / "drivers.txt").read_text().split() if (pytester.path / "drivers.txt").exists() else []
    return result, outcomes, {driver.split(".")[0] for driver in drivers}


def test_an_async_only_stack_passes_on_every_engine(alembic_project, pytester, monkeypatch):
    """A FastAPI-style project with asyncpg and asyncmy only: the plugin's own connections use them."""
    alembic_project("async")
    result, outcomes, drivers = _run_without(pytester, monkeypatch, "sync", SYNC_DRIVER_MODULES)
    assert result.ret == 0, result.stdout.str()
    assert outcomes == expected_outcomes(ALL_ENGINES), outcomes
    walked(result, 2)
    assert drivers == {"sqlalchemy", "sqlite3"}, drivers  # SQLAlchemy's async adapters, and SQLite's own driver


def test_no_driver_at_all_names_one_package_and_no_missing_server(alembic_project, pytester, monkeypatch):
    alembic_project("async")
    blocked = SYNC_DRIVER_MODULES + ASYNC_DRIVER_MODULES
    result, outcomes, _ = _run_without(pytester, monkeypatch, "postgresql or mysql", blocked)
    assert outcomes["test_upgrade[sqlite]"] == "passed"
    assert [name for name, outcome in outcomes.items() if outcome == "failed"] == [
        "test_upgrade[postgresql]",
        "test_upgrade[mysql]",
    ], outcomes
    output = result.stdout.str()
    for engine in ("postgresql", "mysql"):
        assert f"no {engine} driver is installed" in output
        assert f"`pip install pytest-migrations[{engine}]` installs one" in output
    assert "server" not in " ".join(line for line in result.stdout.lines if "not checked" in line), output
