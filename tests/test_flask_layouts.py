"""Flask-Migrate projects as users have them, run unmodified under `pytest --migrations` (issue 12).

The migrations folder is generated once per module by `flask db init` / `flask db migrate` in a
subprocess (see test_flask.generate); each test copies it into the pytester directory with its own
app file, pytest.ini and, for the older layouts, the env.py an older Flask-Migrate wrote, and runs
one whole pytest session on it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
import test_flask
from test_flask import (
    AUTHORS,
    AUTHORS_AND_BOOKS,
    FLASK_CONFIG,
    app_files,
    factory_app,
    flask_db_ok,
    generate,
    module_app,
)

from conftest import ALL_ENGINES, assert_checks, item_reports, needs

# test_flask's fixtures, found by pytest as attributes of this module: no FLASK_APP or
# PYTEST_MIGRATIONS leaks between tests (autouse), and the statements every engine runs.
_no_leaked_env = test_flask._no_leaked_env
statements = test_flask.statements

# ------------------------------------------------------------------ env.py as older Flask-Migrate wrote it

# Flask-Migrate 2.x: the URL comes from the app's configuration, the engine from engine_from_config.
ENV_PY_FLASK_MIGRATE_2 = '''\
from __future__ import with_statement

import logging
from logging.config import fileConfig

from sqlalchemy import engine_from_config
from sqlalchemy import pool

from alembic import context

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
fileConfig(config.config_file_name)
logger = logging.getLogger('alembic.env')

# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
from flask import current_app
config.set_main_option(
    'sqlalchemy.url',
    current_app.config.get('SQLALCHEMY_DATABASE_URI').replace('%', '%%'))
target_metadata = current_app.extensions['migrate'].db.metadata

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=target_metadata, literal_binds=True
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    engine = engine_from_config(config.get_section(config.config_ini_section),
                                prefix='sqlalchemy.',
                                poolclass=pool.NullPool)

    connection = engine.connect()
    context.configure(connection=connection,
                      target_metadata=target_metadata,
                      process_revision_directives=process_revision_directives,
                      **current_app.extensions['migrate'].configure_args)

    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        connection.close()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

# Flask-Migrate 3.x: URL and engine from db.get_engine() (deprecated by Flask-SQLAlchemy 3.1).
ENV_PY_FLASK_MIGRATE_3 = '''\
import logging
from logging.config import fileConfig

from flask import current_app

from alembic import context

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
fileConfig(config.config_file_name)
logger = logging.getLogger('alembic.env')

# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option(
    'sqlalchemy.url',
    str(current_app.extensions['migrate'].db.get_engine().url).replace(
        '%', '%%'))
target_metadata = current_app.extensions['migrate'].db.metadata

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=target_metadata, literal_binds=True
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    connectable = current_app.extensions['migrate'].db.get_engine()

    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            process_revision_directives=process_revision_directives,
            **current_app.extensions['migrate'].configure_args
        )

        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

OLD_ENV_PY = {"flask-migrate-2": ENV_PY_FLASK_MIGRATE_2, "flask-migrate-3": ENV_PY_FLASK_MIGRATE_3}

# ------------------------------------------------------------------ the project

ABSOLUTE_URI = '"sqlite:///" + os.path.join(app.root_path, "app.db")'


def relative_sqlite(source: str) -> str:
    """The app with `sqlite:///app.db`, as the Flask-SQLAlchemy docs write it (it lands in instance/)."""
    assert ABSOLUTE_URI in source
    return source.replace(ABSOLUTE_URI, '"sqlite:///app.db"')


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The library app's migrations (authors, then books and author bio), generated once for the module."""
    return generate(
        tmp_path_factory.mktemp("library"),
        "app:create_app",
        [(factory_app(AUTHORS), "authors"), (factory_app(AUTHORS_AND_BOOKS), "books and author bio")],
    )


@pytest.fixture
def layout(pytester: pytest.Pytester, library: Path) -> Callable[..., Path]:
    """The generated project in the pytester directory with these files (app.py, .flaskenv, ...) and pytest.ini."""

    def make(files: dict[str, str], ini: str = "", env_py: str | None = None) -> Path:
        root = pytester.path
        for child in library.iterdir():
            shutil.copytree(child, root / child.name)
        for name, text in files.items():
            (root / name).write_text(text)
        (root / "pytest.ini").write_text("[pytest]\n" + ini)
        if env_py is not None:
            (root / "migrations" / "env.py").write_text(env_py)
        assert not (root / "alembic.ini").exists()  # Flask-Migrate keeps it in migrations/
        return root

    return make


def on_app_db(seen: list[tuple[sa.URL, str]]) -> list[tuple[str, str]]:
    """The statements that ran on a database file named app.db (the app's own, wherever it resolved)."""
    return [(str(url), sql) for url, sql in seen if os.path.basename(url.database or "") == "app.db"]


def assert_all_pass(result: pytest.RunResult, *engines: str) -> None:
    """Every check of `engines` passed; a run that stopped before its items says why (its usage error)."""
    assert item_reports(result), f"no item ran (exit code {result.ret}):\n{result.stderr.str()}"
    assert_checks(result, *engines)
    assert result.ret == 0


# ------------------------------------------------------------------ 1. older env.py layouts


@pytest.mark.parametrize("style", sorted(OLD_ENV_PY))
def test_older_env_py_is_valid_for_flask_migrate(layout, style):
    """The older env.py texts are what `flask db upgrade` runs today: it builds the app's database with them."""
    root = layout({"app.py": factory_app()}, env_py=OLD_ENV_PY[style])
    flask_db_ok(root, "app:create_app", "upgrade")
    engine = sa.create_engine(f"sqlite:///{root / 'app.db'}")
    try:
        assert sorted(sa.inspect(engine).get_table_names()) == ["alembic_version", "author", "book"]
    finally:
        engine.dispose()


@pytest.mark.parametrize("style", sorted(OLD_ENV_PY))
def test_older_env_py_on_every_engine(layout, run_checks, statements, style):
    """Flask-Migrate 2.x and 3.x env.py, with only migrations_flask_app set: all checks pass, app.db is left alone."""
    root = layout({"app.py": factory_app()}, ini="migrations_flask_app = app:create_app()\n", env_py=OLD_ENV_PY[style])
    result = run_checks(engines=ALL_ENGINES)
    assert_all_pass(result, *ALL_ENGINES.split(","))
    assert app_files(root) == []
    assert on_app_db(statements) == []
    assert statements  # the recorder did see the run's own databases


# ------------------------------------------------------------------ 2. finding the app as `flask` does


@pytest.mark.parametrize(
    ("files", "flask_app"),
    [
        pytest.param({"app.py": module_app()}, "app.py", id="FLASK_APP-file"),
        pytest.param({"app.py": factory_app()}, "app.py:create_app", id="FLASK_APP-file-factory"),
        pytest.param({"app.py": module_app(), ".flaskenv": "FLASK_APP=app.py\n"}, None, id="flaskenv"),
        pytest.param({"app.py": module_app()}, None, id="app.py-found"),
        pytest.param({"wsgi.py": module_app()}, None, id="wsgi.py-found"),
    ],
)
def test_app_found_as_flask_finds_it(layout, run_checks, monkeypatch, files, flask_app):
    """FLASK_APP as a file path, a .flaskenv, or wsgi.py/app.py with nothing set; no ini line, no alembic.ini."""
    root = layout(files)
    if flask_app is not None:
        monkeypatch.setenv("FLASK_APP", flask_app)
    result = run_checks()
    assert_all_pass(result, "sqlite")
    result.stdout.fnmatch_lines([f"migrations: {root}/{FLASK_CONFIG} on sqlite"])
    assert app_files(root) == []


# ------------------------------------------------------------------ 3. the app's database file


@pytest.mark.parametrize("style", ["current", "flask-migrate-2"])
def test_app_database_file_is_never_created(layout, run_checks, statements, style):
    """`sqlite:///app.db` (instance/app.db to Flask-SQLAlchemy, ./app.db to an old env.py): no such file after a run."""
    root = layout(
        {"app.py": relative_sqlite(module_app())},
        ini="migrations_flask_app = app:app\n",
        env_py=OLD_ENV_PY.get(style),  # None: the env.py `flask db init` wrote
    )
    result = run_checks()
    assert app_files(root) == []
    assert on_app_db(statements) == []
    assert_all_pass(result, "sqlite")


# ------------------------------------------------------------------ 4. filterwarnings = error


@needs("Flask-SQLAlchemy", "3.1", "a deprecation warning from the stock env.py (db.get_engine())")
def test_stock_env_py_under_filterwarnings_error(layout, run_checks):
    """Flask-Migrate's env.py calls db.get_engine(), deprecated by Flask-SQLAlchemy 3.1: reported, not fatal."""
    root = layout({"app.py": factory_app()}, ini="filterwarnings = error\nmigrations_flask_app = app:create_app()\n")
    # The in-process run imports pytest_migrations before pytest can mark it for assertion rewriting,
    # a warning a user's own process never gives; under `error` it would stop the run before it starts.
    result = run_checks("-W", "ignore::pytest.PytestAssertRewriteWarning")
    assert_all_pass(result, "sqlite")
    out = result.stdout.str()
    assert "warnings summary" in out, out
    summary = out[out.index("warnings summary") :]
    assert "get_engine" in summary, summary
    assert "DeprecationWarning" in summary, summary
    assert app_files(root) == []
