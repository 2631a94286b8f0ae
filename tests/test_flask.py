"""Flask-SQLAlchemy 3 + Flask-Migrate apps, with migrations written by Flask-Migrate itself.

Every project here is a real Flask app. Its migrations folder was made by running
`flask db init` (`--multidb` for the multi-database app) and `flask db migrate` in a
subprocess, once per module, and is copied into the pytester directory; env.py is left
exactly as Flask-Migrate wrote it. The app's own development database files made along
the way are deleted, so a test can tell whether a run created or touched them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from packaging.version import Version
from sqlalchemy import event

from conftest import (
    SERVER_URLS,
    assert_checks,
    expected_outcomes,
    failure_lines,
    generated_on_first_use,
    installed,
    item_failure,
    item_outcomes,
)

_TEMPLATES = Path(flask_migrate.__file__).parent / "templates"
FLASK_CONFIG = "migrations/alembic.ini"  # where `flask db init` writes it: the checks' node ids start with it

# ------------------------------------------------------------------ the apps

HEADER = """\
import os

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
"""

# The library app, in the two stages its two migrations were generated from.
AUTHORS = """

class Author(db.Model):
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(64), unique=True, nullable=False)
"""
AUTHORS_AND_BOOKS = """

class Author(db.Model):
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(64), unique=True, nullable=False)
    bio = sa.Column(sa.String(200))


class Book(db.Model):
    id = sa.Column(sa.Integer, primary_key=True)
    title = sa.Column(sa.String(120), index=True, nullable=False)
    # No index=True on the foreign key: the generated downgrade would drop that index before
    # the table, which MySQL refuses (error 1553). MySQL indexes the foreign key by itself.
    author_id = sa.Column(sa.ForeignKey(Author.id), nullable=False)
"""
# A column added to the model with no migration for it.
BOOKS_WITH_PAGES = AUTHORS_AND_BOOKS + "    pages = sa.Column(sa.Integer)\n"


def module_app(models: str = AUTHORS_AND_BOOKS, directory: str | None = None) -> str:
    """`app = Flask(__name__)` at module level, extensions made with the app."""
    migrate = "Migrate(app, db)" if directory is None else f"Migrate(app, db, directory={directory!r})"
    return (
        HEADER
        + f"""
app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.root_path, "app.db")
db = SQLAlchemy(app)
migrate = {migrate}
"""
        + models
    )


def factory_app(
    models: str = AUTHORS_AND_BOOKS, signature: str = 'config_name="development"', create_all: bool = False
) -> str:
    """An application factory; with `create_all`, one that sets its database up on start-up unless under test."""
    setup = (
        """
    if not os.environ.get("PYTEST_MIGRATIONS"):
        with app.app_context():
            db.create_all()"""
        if create_all
        else ""
    )
    return (
        HEADER
        + """
db = SQLAlchemy()
migrate = Migrate()
"""
        + models
        + f"""

DATABASES = {{"development": "app.db", "testing": "testing.db"}}


def create_app({signature}):
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.root_path, DATABASES[config_name])
    db.init_app(app)
    migrate.init_app(app, db){setup}
    return app
"""
    )


# The multi-database app: a default database and two binds.
MULTIDB_SETUP = """
app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.root_path, "app.db")
app.config["SQLALCHEMY_BINDS"] = {
    "users": "sqlite:///" + os.path.join(app.root_path, "users.db"),
    "logs": "sqlite:///" + os.path.join(app.root_path, "logs.db"),
}
db = SQLAlchemy(app)
migrate = Migrate(app, db)


class Setting(db.Model):
    id = sa.Column(sa.Integer, primary_key=True)
    key = sa.Column(sa.String(64), unique=True, nullable=False)
    value = sa.Column(sa.String(200))


class Account(db.Model):
    __bind_key__ = "users"
    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(120), unique=True, nullable=False)
"""
EVENTS = """

class Event(db.Model):
    __bind_key__ = "logs"
    id = sa.Column(sa.Integer, primary_key=True)
    message = sa.Column(sa.String(200), nullable=False)
"""
EVENTS_WITH_LEVEL = EVENTS + "    level = sa.Column(sa.String(10))\n"


def multidb_app(account_extra: str = "", events: str = EVENTS_WITH_LEVEL) -> str:
    setup = MULTIDB_SETUP + (f"    {account_extra}\n" if account_extra else "")
    return HEADER + setup + events


# ------------------------------------------------------- generating migrations


def flask_db(cwd: Path, app_ref: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`FLASK_APP=APP flask db ARGS`, as a developer runs it in the project directory (every Flask line reads
    FLASK_APP; `--app` came with Flask 2.2)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_MIGRATIONS"}
    env["FLASK_APP"] = app_ref
    return subprocess.run(
        [sys.executable, "-m", "flask", "db", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def flask_db_ok(cwd: Path, app_ref: str, *args: str) -> str:
    result = flask_db(cwd, app_ref, *args)
    assert result.returncode == 0, f"flask db {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def generate(root: Path, app_ref: str, stages: list[tuple[str, str]], init: tuple[str, ...] = ()) -> Path:
    """Write each stage of app.py and `flask db migrate` it; the dev databases are deleted afterwards."""
    for number, (source, message) in enumerate(stages):
        (root / "app.py").write_text(source)
        if number == 0:
            flask_db_ok(root, app_ref, "init", *init)
        else:
            flask_db_ok(root, app_ref, "upgrade")  # `flask db migrate` wants the database at head
        flask_db_ok(root, app_ref, "migrate", "-m", message)
    for made in root.glob("*.db"):
        made.unlink()
    shutil.rmtree(root / "__pycache__", ignore_errors=True)
    (root / "app.py").unlink()
    return root


def _library(root: Path) -> Path:
    return generate(
        root,
        "app:create_app",
        [(factory_app(AUTHORS), "authors"), (factory_app(AUTHORS_AND_BOOKS), "books and author bio")],
    )


def _custom_directory(root: Path) -> Path:
    return generate(root, "app:app", [(module_app(AUTHORS_AND_BOOKS, directory="db_migrations"), "library")])


def _multidb(root: Path) -> Path:
    return generate(
        root,
        "app:app",
        [(multidb_app(events=EVENTS), "settings accounts events"), (multidb_app(), "event level")],
        init=("--multidb",),
    )


GENERATORS: dict[str, Callable[[Path], Path]] = {
    "library": _library,
    "custom_directory": _custom_directory,
    "multidb": _multidb,
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Path]]:
    """The generated project of a kind; all kinds are generated at once, in parallel, on first use."""
    with generated_on_first_use(tmp_path_factory, GENERATORS) as get:
        yield get


@pytest.fixture(autouse=True)
def _no_leaked_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin sets PYTEST_MIGRATIONS=1 when it loads an app; the runs here are in-process."""
    for name in ("PYTEST_MIGRATIONS", "FLASK_APP"):
        monkeypatch.setenv(name, "")  # remembers the original, so the undo restores it
        monkeypatch.delenv(name)


@pytest.fixture
def flask_project(pytester: pytest.Pytester, generated: Callable[[str], Path]) -> Callable[..., Path]:
    """Copy a generated migrations folder into the pytester directory, with this test's app.py and pytest.ini."""

    def make(kind: str, app_py: str, ini: str = "", tests: dict[str, str] | None = None) -> Path:
        source = generated(kind)
        for child in source.iterdir():
            shutil.copytree(child, pytester.path / child.name)
        (pytester.path / "app.py").write_text(app_py)
        # env.py as Flask-Migrate writes it calls db.get_engine(), which Flask-SQLAlchemy 3.1 deprecates.
        (pytester.path / "pytest.ini").write_text(
            "[pytest]\nfilterwarnings = ignore::DeprecationWarning\n" + textwrap.dedent(ini)
        )
        for name, text in (tests or {}).items():
            path = pytester.path / "tests" / name
            path.parent.mkdir(exist_ok=True)
            path.write_text(textwrap.dedent(text))
        return pytester.path

    return make


# ------------------------------------------------------------------ reading results


def app_files(root: Path) -> list[str]:
    """Database files anywhere in the project (the app's own would be app.db, testing.db, users.db, logs.db)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.suffix in (".db", ".sqlite"))


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


def created_in(seen: list[tuple[sa.URL, str]]) -> dict[str, set[str]]:
    """Table name -> the databases a CREATE TABLE for it ran in."""
    found: dict[str, set[str]] = {}
    for url, statement in seen:
        match = re.match(r"\s*CREATE TABLE [`\"]?(\w+)", statement, re.I)
        if match:
            found.setdefault(match.group(1), set()).add(f"{url.get_backend_name()}:{url.database}")
    return found


# ------------------------------------------------------------------ the tests


def test_generated_env_py_is_flask_migrates_own(generated):
    """What the other tests run is env.py exactly as `flask db init` wrote it, and the dev databases are gone."""
    for kind, template in (("library", "flask"), ("custom_directory", "flask"), ("multidb", "flask-multidb")):
        root = generated(kind)
        directory = root / ("db_migrations" if kind == "custom_directory" else "migrations")
        assert (directory / "env.py").read_text() == (_TEMPLATES / template / "env.py").read_text()
        assert sorted(p.name for p in root.iterdir()) == [directory.name]
        assert len(list((directory / "versions").glob("*.py"))) == (1 if kind == "custom_directory" else 2)


def test_module_level_app(flask_project, run_checks):
    """`app = Flask(__name__)` at module level, named as `app:app`."""
    root = flask_project("library", module_app(), ini="migrations_flask_app = app:app")
    result = run_checks()
    assert item_outcomes(result, node_ids=True) == expected_outcomes(config=FLASK_CONFIG)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            f"migrations: {root}/migrations/alembic.ini on sqlite",
            "*pytest-migrations summary*",
            "sqlite: 2 revisions walked in *s (1 walk)",
        ]
    )
    assert app_files(root) == []


@pytest.mark.parametrize("setup_on_start", [False, True], ids=["factory", "factory-that-creates-tables"])
def test_factory(flask_project, run_checks, setup_on_start):
    """`app:create_app()`; a factory that runs create_all on start-up skips it under PYTEST_MIGRATIONS=1."""
    root = flask_project(
        "library", factory_app(create_all=setup_on_start), ini="migrations_flask_app = app:create_app()"
    )
    result = run_checks()
    assert item_outcomes(result, node_ids=True) == expected_outcomes(config=FLASK_CONFIG)
    assert result.ret == 0
    assert app_files(root) == []


@pytest.mark.parametrize("source", ["ini", "flag", "FLASK_APP"])
def test_factory_with_an_argument(flask_project, run_checks, monkeypatch, source):
    """`app:create_app('testing')` from the ini key, the flag, or FLASK_APP when no alembic.ini is in the rootdir."""
    ref = "app:create_app('testing')"
    root = flask_project(
        "library",
        factory_app(signature="config_name", create_all=True),  # no default: only 'testing' gets an app
        ini=f"migrations_flask_app = {ref}" if source == "ini" else "",
    )
    args = [f"--migrations-flask-app={ref}"] if source == "flag" else []
    if source == "FLASK_APP":
        monkeypatch.setenv("FLASK_APP", ref)
    assert not (root / "alembic.ini").exists()
    result = run_checks(*args)
    assert item_outcomes(result, node_ids=True) == expected_outcomes(config=FLASK_CONFIG)
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"migrations: {root}/migrations/alembic.ini on sqlite"])
    assert app_files(root) == []


def test_no_app_named_and_no_alembic_ini_is_a_usage_error(flask_project, run_checks):
    """No ini key, no flag, no FLASK_APP, no app.py or wsgi.py and no alembic.ini: a usage error naming every way."""
    root = flask_project("library", factory_app())
    (root / "app.py").rename(root / "library.py")  # app.py or wsgi.py would be found, as `flask` finds them
    result = run_checks()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert item_outcomes(result, node_ids=True) == {}
    result.stderr.fnmatch_lines(["*pytest-migrations: no Alembic config found*migrations_flask_app*"])


def test_custom_migrations_directory(flask_project, run_checks):
    """`Migrate(app, db, directory="db_migrations")`: the plugin finds the folder through the extension."""
    root = flask_project(
        "custom_directory", module_app(directory="db_migrations"), ini="migrations_flask_app = app:app"
    )
    assert not (root / "migrations").exists()
    result = run_checks()
    assert item_outcomes(result, node_ids=True) == expected_outcomes(config="db_migrations/alembic.ini")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [f"migrations: {root}/db_migrations/alembic.ini on sqlite", "sqlite: 1 revision walked in *s (1 walk)"]
    )
    assert app_files(root) == []


def test_model_changed_without_a_migration(flask_project, run_checks, tmp_path):
    """A column added to the model only: the model check names it, as `flask db check` does."""
    root = flask_project("library", factory_app(BOOKS_WITH_PAGES), ini="migrations_flask_app = app:create_app()")
    result = run_checks()
    assert item_outcomes(result, node_ids=True) == expected_outcomes(
        config=FLASK_CONFIG, test_model_matches_migrations="failed"
    )
    assert failure_lines(result, "test_model_matches_migrations[sqlite]") == [
        "test_model_matches_migrations[sqlite] failed:",
        "the schema the migrations build differs from what metadata.create_all builds "
        '(add a migration, e.g. `flask db migrate -m "..."`, or fix the model):',
        "  book.pages: absent at head, present in the model",
    ]
    assert app_files(root) == []

    # Flask-Migrate's own check, on a copy with a development database at head, finds the same column.
    if installed("Flask-Migrate") < Version("4.0"):
        pytest.skip(
            f"the plugin's verdict passed; `flask db check` needs Flask-Migrate >= 4.0, this stack has {installed('Flask-Migrate')}"
        )
    copy = tmp_path / "copy"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("__pycache__"))
    flask_db_ok(copy, "app:create_app", "upgrade")
    check = flask_db(copy, "app:create_app", "check")
    assert check.returncode == 1
    assert re.search(r"New upgrade operations detected: \[\('add_column', None, 'book', Column\('pages'", check.stderr)


def test_two_heads_suggest_flask_db_merge(flask_project, run_checks):
    root = flask_project("library", factory_app(), ini="migrations_flask_app = app:create_app()")
    versions = root / "migrations" / "versions"
    first = min(versions.glob("*.py"), key=lambda p: "down_revision = None" not in p.read_text())
    base = re.search(r"^revision = '(\w+)'", first.read_text(), re.M).group(1)
    (versions / "zz_branch.py").write_text(
        f"revision = 'zz1'\ndown_revision = '{base}'\nbranch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
    )
    result = run_checks()
    message = item_failure(result, "test_single_head")
    assert re.search(r'Merge them: flask db merge -m "merge heads" (\w+ zz1|zz1 \w+)$', message, re.M), message


def test_app_database_is_never_created_or_written(flask_project, run_checks, statements):
    """The app's configured sqlite:///.../app.db: left byte-for-byte alone, never even connected to."""
    root = flask_project(
        "library",
        module_app(),
        ini="migrations_flask_app = app:app",
        tests={
            "test_library.py": """
                def test_upgrade(migrator):
                    migrator.upgrade()
            """
        },
    )
    app_db = root / "app.db"
    with sqlite3.connect(app_db) as conn:
        conn.execute("CREATE TABLE developer_data (note TEXT)")
        conn.execute("INSERT INTO developer_data VALUES ('keep me')")
    conn.close()
    before = (hashlib.sha256(app_db.read_bytes()).hexdigest(), app_db.stat().st_mtime_ns)

    result = run_checks()
    assert item_outcomes(result, node_ids=True) == {
        **expected_outcomes(config=FLASK_CONFIG),
        "tests/test_library.py::test_upgrade[sqlite]": "passed",
    }
    assert (hashlib.sha256(app_db.read_bytes()).hexdigest(), app_db.stat().st_mtime_ns) == before
    assert app_files(root) == ["app.db"]
    assert not (root / "instance").exists()
    used = {url.database for url, _sql in statements}
    assert str(app_db) not in used
    assert used  # the recorder did see the run's own databases


def test_every_engine_of_the_matrix(flask_project, run_checks):
    root = flask_project(
        "library",
        factory_app(),
        ini="migrations_flask_app = app:create_app()",
        tests={
            "test_library.py": """
                def test_bio_keeps_authors(migrator):
                    authors, books = migrator.revisions
                    migrator.upgrade(authors)
                    migrator.insert("author", [{"id": 1, "name": "Le Guin"}])
                    migrator.upgrade()
                    assert migrator.rows("author") == [{"id": 1, "name": "Le Guin", "bio": None}]
            """
        },
    )
    engines = "sqlite,postgresql,mysql"
    result = run_checks(engines=engines)
    assert item_outcomes(result, node_ids=True) == {
        **expected_outcomes(engines, config=FLASK_CONFIG),
        **{f"tests/test_library.py::test_bio_keeps_authors[{e}]": "passed" for e in engines.split(",")},
    }
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*pytest-migrations summary*",
            "mysql: 2 revisions walked in *s (1 walk)",
            "postgresql: 2 revisions walked in *s (1 walk)",
            "sqlite: 2 revisions walked in *s (1 walk)",
        ]
    )
    assert app_files(root) == []


def test_migrator_fixture(flask_project, run_checks):
    """A user test on the Flask project: migrations run in the app context; the app is left as it was."""
    root = flask_project(
        "library",
        module_app(),
        ini="migrations_flask_app = app:app",
        tests={
            "test_library.py": """
                import os

                import flask

                from app import app, db


                def test_walk_with_rows(migrator):
                    authors, books = migrator.revisions
                    assert migrator.current() == ()
                    migrator.upgrade(authors)
                    assert migrator.current() == (authors,)
                    migrator.insert("author", [{"id": 1, "name": "Le Guin"}, {"id": 2, "name": "Tolkien"}])
                    migrator.upgrade()
                    assert migrator.current() == (books,)
                    assert migrator.rows("author") == [
                        {"id": 1, "name": "Le Guin", "bio": None},
                        {"id": 2, "name": "Tolkien", "bio": None},
                    ]
                    migrator.insert("book", [{"id": 7, "title": "The Dispossessed", "author_id": 1}])
                    assert migrator.rows("book") == [{"id": 7, "title": "The Dispossessed", "author_id": 1}]
                    migrator.downgrade(authors)
                    assert migrator.current() == (authors,)
                    assert [c.name for c in migrator.table("author").columns] == ["id", "name"]
                    assert migrator.rows("author", order_by="name") == [
                        {"id": 1, "name": "Le Guin"},
                        {"id": 2, "name": "Tolkien"},
                    ]
                    migrator.downgrade()
                    assert migrator.current() == ()


                def test_app_context_is_pushed_on_the_throwaway_database(migrator):
                    migrator.upgrade()
                    assert flask.has_app_context()
                    assert db.engine.url == migrator.engine.url
                    assert db.engine.url.database != os.path.join(app.root_path, "app.db")


                def test_zz_app_engines_are_put_back_afterwards():
                    assert not flask.has_app_context()
                    with app.app_context():
                        assert db.engine.url.database == os.path.join(app.root_path, "app.db")
                        assert list(getattr(db, "engines", [None])) == [None]  # 2.x: no such mapping
            """
        },
    )
    result = run_checks("-m", "not migrations")
    assert item_outcomes(result, node_ids=True) == {
        "tests/test_library.py::test_walk_with_rows[sqlite]": "passed",
        "tests/test_library.py::test_app_context_is_pushed_on_the_throwaway_database[sqlite]": "passed",
        "tests/test_library.py::test_zz_app_engines_are_put_back_afterwards": "passed",
    }
    assert result.ret == 0
    assert app_files(root) == []


MULTIDB_TABLES = {"setting": None, "account": "users", "event": "logs"}


@pytest.mark.parametrize("engines", ["sqlite", "sqlite,postgresql"])
def test_multidb_every_bind_gets_its_own_database(flask_project, run_checks, statements, engines):
    """`flask db init --multidb` with two binds: each bind is walked in its own throwaway database."""
    root = flask_project("multidb", multidb_app(), ini="migrations_flask_app = app:app")
    result = run_checks(engines=engines)
    assert item_outcomes(result, node_ids=True) == expected_outcomes(engines, config=FLASK_CONFIG)
    assert result.ret == 0
    assert app_files(root) == []

    created = created_in(statements)
    for engine in engines.split(","):
        per_table = {
            table: {db for db in created.get(table, set()) if db.startswith(engine)} for table in MULTIDB_TABLES
        }
        # Each table was created (by the walk, and by create_all for the model check) ...
        assert all(per_table.values()), per_table
        # ... and never in a database where a table of another bind was created.
        for table, databases in per_table.items():
            for other, other_databases in per_table.items():
                if other != table:
                    assert not databases & other_databases, (table, other, databases & other_databases)
    app_paths = {f"sqlite:{root / name}" for name in ("app.db", "users.db", "logs.db")}
    assert not app_paths & set().union(*created.values())
    # Every throwaway database, the binds' included, is gone after the run.
    names = sorted({db.split(":", 1)[1] for db in set().union(*created.values()) if db.startswith("postgresql:")})
    if names:
        url = sa.engine.make_url(SERVER_URLS["postgresql"])
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg2")  # the driver the project installs
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                left = conn.execute(
                    sa.text("SELECT datname FROM pg_database WHERE datname IN :names").bindparams(
                        sa.bindparam("names", expanding=True)
                    ),
                    {"names": names},
                ).all()
        finally:
            engine.dispose()
        assert left == []
        assert len(names) == 6
    assert all(
        not Path(db.split(":", 1)[1]).exists() for db in set().union(*created.values()) if db.startswith("sqlite:")
    )


def test_multidb_model_change_in_one_bind(flask_project, run_checks):
    """A column added to a model of the `users` bind only: the model check fails and names the bind."""
    root = flask_project(
        "multidb",
        multidb_app(account_extra="nickname = sa.Column(sa.String(40))"),
        ini="migrations_flask_app = app:app",
    )
    result = run_checks()
    assert item_outcomes(result, node_ids=True) == expected_outcomes(
        config=FLASK_CONFIG, test_model_matches_migrations="failed"
    )
    assert failure_lines(result, "test_model_matches_migrations[sqlite]") == [
        "test_model_matches_migrations[sqlite] failed:",
        "the schema the migrations build [bind users] differs from what metadata.create_all builds "
        '(add a migration, e.g. `flask db migrate -m "..."`, or fix the model):',
        "  account.nickname: absent at head, present in the model",
    ]
    assert app_files(root) == []


@pytest.mark.parametrize(
    ("app_py", "ref", "message"),
    [
        pytest.param(
            HEADER + "\n\ndef create_app():\n    raise RuntimeError('SECRET_KEY is not configured')\n",
            "app:create_app()",
            "pytest-migrations: migrations_flask_app = 'app:create_app()': the app failed to load: "
            "RuntimeError: SECRET_KEY is not configured",
            id="factory-raises",
        ),
        pytest.param(
            module_app(),
            "app:make_app()",
            "pytest-migrations: migrations_flask_app = 'app:make_app()': Failed to find attribute 'make_app' in 'app'.",
            id="no-such-factory",
        ),
        pytest.param(
            HEADER + "\napp = Flask(__name__)\n",
            "app:app",
            "pytest-migrations: migrations_flask_app = 'app:app': the app has no Flask-Migrate extension; "
            "call Migrate(app, db) in it.",
            id="no-flask-migrate",
        ),
    ],
)
def test_app_that_cannot_be_used_is_a_usage_error(flask_project, run_checks, app_py, ref, message):
    flask_project("library", app_py, ini=f"migrations_flask_app = {ref}")
    result = run_checks()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert item_outcomes(result, node_ids=True) == {}
    assert f"ERROR: {message}" in result.errlines


@pytest.mark.parametrize("source", ["flag", "FLASK_APP"])
def test_a_bad_app_reference_is_named_by_where_it_came_from(flask_project, run_checks, monkeypatch, source):
    flask_project("library", module_app())
    args = ["--migrations-flask-app=app:make_app()"] if source == "flag" else []
    if source == "FLASK_APP":
        monkeypatch.setenv("FLASK_APP", "app:make_app()")
    result = run_checks(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    origin = "--migrations-flask-app" if source == "flag" else "FLASK_APP"
    assert f"ERROR: pytest-migrations: {origin} = 'app:make_app()': Failed to find attribute" in result.stderr.str()


def test_migrator_fixture_multidb(flask_project, run_checks):
    """The migrator on a multidb app: the bind databases keep their state between upgrade and downgrade."""
    flask_project(
        "multidb",
        multidb_app(),
        ini="migrations_flask_app = app:app",
        tests={
            "test_multidb.py": """
                def test_up_and_down(migrator):
                    initial, level = migrator.revisions
                    migrator.upgrade(initial)
                    migrator.upgrade()
                    assert migrator.current() == (level,)
                    migrator.downgrade(initial)
                    assert migrator.current() == (initial,)
                    migrator.downgrade()
                    assert migrator.current() == ()
            """
        },
    )
    result = run_checks("-m", "not migrations")
    assert item_outcomes(result, node_ids=True) == {"tests/test_multidb.py::test_up_and_down[sqlite]": "passed"}


def test_a_revision_that_reads_current_app_at_import_loads_inside_the_app_context(flask_project, run_checks):
    """As under `flask db upgrade`: revision files load inside the application's context."""
    root = flask_project("library", module_app(), ini="migrations_flask_app = app:app")
    first = sorted((root / "migrations" / "versions").glob("*.py"))[0]
    text = first.read_text()
    marker = "from alembic import op\n"
    first.write_text(
        text.replace(marker, marker + "from flask import current_app\n\nSETTINGS = dict(current_app.config)\n")
    )
    result = run_checks()
    assert item_outcomes(result, node_ids=True) == expected_outcomes(config=FLASK_CONFIG)
    assert result.ret == 0


FLASK_ALEMBIC_APP = """
from flask import Flask
from flask_alembic import Alembic
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
alembic = Alembic()


class Author(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(50), nullable=False)


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///dev.db"
    db.init_app(app)
    alembic.init_app(app)
    return app


app = create_app()
"""


@pytest.mark.skipif(
    importlib.util.find_spec("flask_alembic") is None, reason="Flask-Alembic needs Flask 3 (installed by .ci/run)"
)
def test_a_flask_alembic_app_is_told_exactly_what_to_write_and_that_works(pytester, run_checks):
    (pytester.path / "app.py").write_text(FLASK_ALEMBIC_APP)
    (pytester.path / "pytest.ini").write_text("[pytest]\nmigrations_flask_app = app:app\n")
    subprocess.run(  # the revision, as a Flask-Alembic developer makes it
        [sys.executable, "-c", "from app import app, alembic\nwith app.app_context(): alembic.revision('authors')"],
        cwd=pytester.path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (pytester.path / "dev.db").unlink(missing_ok=True)
    result = run_checks()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    error = result.stderr.str()
    assert "runs its migrations with Flask-Alembic" in error and "Migrate(app, db)" not in error
    # What the message says to write, written:
    location = str(pytester.path / "migrations")
    assert f"version_locations = {location}" in error
    subprocess.run(
        [sys.executable, "-m", "alembic", "init", "-t", "generic", "alembic_env"],
        cwd=pytester.path,
        check=True,
        capture_output=True,
    )
    ini = pytester.path / "alembic.ini"
    ini.write_text(ini.read_text().replace("[alembic]\n", f"[alembic]\nversion_locations = {location}\n", 1))
    env = pytester.path / "alembic_env" / "env.py"
    env.write_text(
        env.read_text().replace("target_metadata = None", "from app import db\ntarget_metadata = db.metadata")
    )
    (pytester.path / "pytest.ini").write_text("[pytest]\n")
    result = run_checks("alembic.ini")
    assert_checks(result, "sqlite")
