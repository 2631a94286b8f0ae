"""Discovery: where the config and metadata come from, and what the plugin leaves alone."""

from __future__ import annotations

import os
import re
import secrets
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from conftest import (
    _TEMPLATE,
    ALL_ENGINES,
    QUIET,
    SERVER_URLS,
    expected_outcomes,
    failure_lines,
    item_failure,
    item_outcomes,
    revision,
    skip_reason,
    write_project,
)
from pytest_migrations.checks import CHECKS
from pytest_migrations.providers import with_driver

# test_upgrade fails; the other walk checks could not check, point there and are skipped (one cause, one failure).
BLOCKED_BY_UPGRADE = {check: "failed" if check == "test_upgrade" else "skipped" for check in CHECKS[1:]}

ONE_TABLE = {
    "0001_t": revision(
        "0001",
        None,
        'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(20)))',
        'op.drop_table("t")',
    )
}
MODELS = (
    't = sa.Table("t", metadata, sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(20)))\n'
)


def test_users_loggers_keep_working_after_env_py_runs_fileconfig(project, run_checks, pytester):
    project(ONE_TABLE, MODELS)
    # Collected after alembic.ini, so it runs after the walk and its fileConfig().
    pytester.makepyfile(
        test_zz_logging="""
        import logging

        log = logging.getLogger("myapp.orders")

        def test_my_logger_still_emits(caplog):
            caplog.set_level(logging.INFO)
            log.info("order shipped")
            assert [r.getMessage() for r in caplog.records] == ["order shipped"]
            assert not log.disabled
        """
    )
    result = run_checks(".", "-p", "no:randomly")
    result.assert_outcomes(passed=8)


def test_checks_are_only_collected_with_the_flag(project, pytester):
    project(ONE_TABLE, MODELS)
    result = pytester.runpytest("--co", "-q", "-p", "no:hypothesispytest", "-p", "no:benchmark")
    assert "test_upgrade" not in result.stdout.str()
    result = pytester.runpytest("--migrations", "--co", "-q", "-p", "no:hypothesispytest", "-p", "no:benchmark")
    result.stdout.fnmatch_lines(
        ["alembic.ini::test_upgrade[[]sqlite[]]", "alembic.ini::test_data_preserved[[]sqlite[]]"]
    )


def test_config_elsewhere_via_flag_and_ini_key(pytester):
    from conftest import write_project

    sub = pytester.path / "backend"
    sub.mkdir()
    write_project(sub, ONE_TABLE, MODELS)
    (sub / "pytest.ini").unlink()
    result = pytester.runpytest("--migrations", "--migrations-config", "backend/alembic.ini", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)
    pytester.makeini("[pytest]\nmigrations_config = backend/alembic.ini\n")
    result = pytester.runpytest("--migrations", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)


def test_metadata_named_in_ini_overrides_env_py(project, run_checks, pytester):
    project(ONE_TABLE, MODELS)
    pytester.makepyfile(
        othermodels=textwrap.dedent(
            """
            import sqlalchemy as sa
            metadata = sa.MetaData()
            sa.Table("t", metadata, sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(99)))
            """
        )
    )
    result = run_checks("--migrations-metadata", "othermodels:metadata")
    result.assert_outcomes(passed=6, failed=1)
    result.stdout.fnmatch_lines(["*t.name: type VARCHAR(20) at head, VARCHAR(99) in the model*"])


def test_migrator_works_without_the_flag(project, pytester):
    project(ONE_TABLE, MODELS)
    pytester.makepyfile(
        test_user_migration_data="""
        def test_insert_and_read(migrator):
            assert migrator.current() == ()
            migrator.upgrade("0001")
            assert migrator.current() == ("0001",)
            migrator.insert("t", [{"id": 2, "name": "b"}, {"id": 1, "name": "a"}])
            assert migrator.rows("t") == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
            assert migrator.rows("t", order_by="name") == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
            assert [c.name for c in migrator.table("t").columns] == ["id", "name"]
            assert migrator.revisions == ["0001"]
            migrator.downgrade("base")
            assert migrator.current() == ()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark")
    result.assert_outcomes(passed=1)


def test_a_migrator_test_may_pick_its_own_engines(project, pytester, monkeypatch):
    project(ONE_TABLE, MODELS, pytest_ini="migrations_engines = sqlite,mysql\n")
    monkeypatch.setenv("PYTEST_MIGRATIONS_POSTGRESQL_URL", SERVER_URLS["postgresql"])
    monkeypatch.setenv("PYTEST_MIGRATIONS_MYSQL_URL", SERVER_URLS["mysql"])
    pytester.makepyfile(
        test_user_migration_data="""
        import pytest

        @pytest.mark.parametrize("migrations_engine", ["pg"])
        def test_only_on_postgresql(migrator, migrations_engine):
            migrator.upgrade("0001")
            assert migrator.engine.dialect.name == "postgresql"

        @pytest.mark.parametrize("migrations_engine", ["oracle"])
        def test_on_an_engine_that_is_none(migrator):
            pass

        def test_on_the_matrix(migrator, migrations_engine):
            assert migrator.engine.dialect.name == migrations_engine
        """
    )
    result = pytester.runpytest("-v", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark")
    result.assert_outcomes(passed=3, errors=1)  # the unknown engine fails the migrator fixture
    result.stdout.fnmatch_lines(
        [
            "*migrator[[]oracle[]]: pytest-migrations: unknown engine 'oracle' in "
            "@pytest.mark.parametrize('migrations_engine', ...); "
            "choose from sqlite, postgresql, mysql.*"
        ]
    )
    result.stdout.fnmatch_lines_random(
        [
            "*test_only_on_postgresql[[]pg[]] PASSED*",
            "*test_on_the_matrix[[]sqlite[]] PASSED*",
            "*test_on_the_matrix[[]mysql[]] PASSED*",
        ]
    )


# ------------------------------------------------- an env.py that ignores sqlalchemy.url

ENV_FROM_VARIABLE = (
    (_TEMPLATE / "env.py")
    .read_text()
    .replace("target_metadata = None", "from models import metadata as target_metadata")
    # The template's engine_from_config(...) call, as the installed Alembic spells it.
    .replace(
        re.search(r"connectable = engine_from_config\(\n.*?\n    \)", (_TEMPLATE / "env.py").read_text(), re.S).group(
            0
        ),
        'connectable = sa.create_engine(os.environ["APP_DATABASE_URL"], poolclass=pool.NullPool)',
    )
    .replace("from alembic import context", "import os\n\nimport sqlalchemy as sa\nfrom alembic import context")
)
MIGRATOR_TEST = """
def test_my_data_migration(migrator):
    migrator.upgrade("0001")
    assert migrator.current() == ("0001",)
"""


@pytest.fixture
def users_database(engine: str, tmp_path: Path) -> Iterator[tuple[str, Callable[[], dict[str, list[tuple]]]]]:
    """A database the plugin did not create, holding a customer row: (its URL, what it holds now)."""
    if engine == "sqlite":
        url = make_url(f"sqlite:///{tmp_path / 'app.db'}")
        admin = None
    else:
        server = with_driver(make_url(SERVER_URLS[engine]), engine)
        url = server.set(database=f"myapp_{secrets.token_hex(4)}")
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {url.database}"))
    app = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with app.begin() as conn:
        conn.execute(sa.text("CREATE TABLE customer (id INTEGER PRIMARY KEY, name VARCHAR(20))"))
        conn.execute(sa.text("INSERT INTO customer VALUES (1, 'ada')"))

    def contents() -> dict[str, list[tuple]]:
        with app.connect() as conn:
            return {
                name: [tuple(row) for row in conn.execute(sa.text(f"SELECT * FROM {name}"))]
                for name in sa.inspect(conn).get_table_names()
            }

    try:
        yield url.render_as_string(hide_password=False), contents
    finally:
        app.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE {url.database}"))
            admin.dispose()


def test_env_py_connecting_elsewhere_is_refused_and_that_database_left_alone(
    project, run_checks, pytester, monkeypatch, engine, users_database
):
    url, contents = users_database
    monkeypatch.setenv("APP_DATABASE_URL", url)
    project(ONE_TABLE, MODELS, env_py=ENV_FROM_VARIABLE)
    (pytester.path / "models.py").write_text("import sqlalchemy as sa\n\nmetadata = sa.MetaData()\n" + MODELS)
    pytester.makepyfile(test_user_migration=MIGRATOR_TEST)
    result = run_checks(".", engines=engine)
    assert item_outcomes(result) == {
        **expected_outcomes(engine, **BLOCKED_BY_UPGRADE),
        f"test_my_data_migration[{engine}]": "failed",
    }
    lines = failure_lines(result, f"test_upgrade[{engine}]")
    assert lines[0] == f"test_upgrade[{engine}] failed:"
    assert lines[1].endswith(
        f"/migrations/env.py) did not connect to the throwaway {engine} database; nothing was run."
    )
    assert lines[2].startswith("at ") and "/migrations/env.py:" in lines[2]
    assert lines[3].startswith(f"env.py connected to the {engine} database ")
    assert "name that variable in the migrations_url_env ini key; if from settings" in lines[3]
    assert "only migrates databases it created itself" in item_failure(result, f"test_my_data_migration[{engine}]")
    assert contents() == {"customer": [(1, "ada")]}  # no alembic_version, no seeded rows, nothing dropped


def test_migrations_url_env_points_env_py_at_the_throwaway_database(
    project, run_checks, pytester, monkeypatch, engine, users_database
):
    url, contents = users_database
    monkeypatch.setenv("APP_DATABASE_URL", url)
    project(ONE_TABLE, MODELS, env_py=ENV_FROM_VARIABLE, pytest_ini="migrations_url_env = APP_DATABASE_URL\n")
    (pytester.path / "models.py").write_text("import sqlalchemy as sa\n\nmetadata = sa.MetaData()\n" + MODELS)
    pytester.makepyfile(test_user_migration=MIGRATOR_TEST)
    result = run_checks(".", engines=engine)
    assert item_outcomes(result) == {**expected_outcomes(engine), f"test_my_data_migration[{engine}]": "passed"}
    assert os.environ["APP_DATABASE_URL"] == url  # restored for the rest of the session
    assert contents() == {"customer": [(1, "ada")]}


def test_env_py_writing_before_run_migrations_is_stopped_at_connect(
    project, run_checks, pytester, monkeypatch, engine, users_database
):
    url, contents = users_database
    monkeypatch.setenv("APP_DATABASE_URL", url)
    env = ENV_FROM_VARIABLE.replace(
        "    with connectable.connect() as connection:\n",
        "    with connectable.begin() as setup:  # committed on SQLAlchemy 1.4 and 2.x alike\n"
        '        setup.execute(sa.text("CREATE TABLE touched (id INTEGER)"))\n'
        "    with connectable.connect() as connection:\n",
    )
    project(ONE_TABLE, MODELS, env_py=env)
    (pytester.path / "models.py").write_text("import sqlalchemy as sa\n\nmetadata = sa.MetaData()\n" + MODELS)
    result = run_checks(engines=engine)
    assert item_outcomes(result) == expected_outcomes(engine, **BLOCKED_BY_UPGRADE)
    assert f"did not connect to the throwaway {engine} database; nothing was run." in item_failure(
        result, f"test_upgrade[{engine}]"
    )
    assert contents() == {"customer": [(1, "ada")]}


# ------------------------------------------- a history that starts from tables it did not create

ALTERS_LEGACY = {
    "0001_email": revision(
        "0001",
        None,
        'op.add_column("legacy_user", sa.Column("email", sa.String(50)))',
        """
        with op.batch_alter_table("legacy_user") as batch:
            batch.drop_column("email")
        """,
        message="add email to the legacy user table",
    )
}
LEGACY_MODELS = (
    'legacy_user = sa.Table("legacy_user", metadata,\n    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),\n'
    '    sa.Column("name", sa.String(20)), sa.Column("email", sa.String(50)))\n'
)
PREPARE_LEGACY = """
import sqlalchemy as sa

def pytest_migrations_prepare_database(connection, engine):
    connection.execute(sa.text("CREATE TABLE legacy_user (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(20))"))
"""
LEGACY_MIGRATOR_TEST = """
def test_email_is_kept(migrator):
    migrator.upgrade("0001")
    migrator.insert("legacy_user", [{"id": 1, "name": "ada", "email": "ada@example.org"}])
    assert migrator.rows("legacy_user") == [{"id": 1, "name": "ada", "email": "ada@example.org"}]
"""


def test_prepare_hook_builds_the_tables_the_first_revision_alters(project, run_checks, pytester, engine):
    project(ALTERS_LEGACY, LEGACY_MODELS)
    pytester.makepyfile(test_legacy=LEGACY_MIGRATOR_TEST)
    result = run_checks(".", engines=engine)  # without the hook the first upgrade cannot work
    assert item_outcomes(result)[f"test_upgrade[{engine}]"] == "failed"
    assert item_outcomes(result)[f"test_email_is_kept[{engine}]"] == "failed"

    pytester.makeconftest(PREPARE_LEGACY)
    result = run_checks(".", engines=engine)
    assert item_outcomes(result) == {**expected_outcomes(engine), f"test_email_is_kept[{engine}]": "passed"}


def test_prepare_hook_that_fails_is_reported_and_leaves_no_database(project, run_checks, pytester):
    project(ALTERS_LEGACY, LEGACY_MODELS)
    pytester.makeconftest(
        """
        import sqlalchemy as sa

        def pytest_migrations_prepare_database(connection, engine):
            connection.execute(sa.text("SELECT * FROM legacy_schema_sql"))
        """
    )
    admin = sa.create_engine(with_driver(make_url(SERVER_URLS["postgresql"]), "postgresql"), poolclass=sa.pool.NullPool)
    result = run_checks(engines="postgresql")
    assert item_outcomes(result) == expected_outcomes("postgresql", **BLOCKED_BY_UPGRADE)
    assert skip_reason(result, "test_roundtrip[postgresql]") == "not checked: see test_upgrade[postgresql]."
    assert failure_lines(result, "test_upgrade[postgresql]")[1:] == [
        "the pytest_migrations_prepare_database hook failed on postgresql, before any migration ran "
        "(nothing was checked).",
        f"at {pytester.path / 'conftest.py'}:4",  # the hook's line, not the driver's
        'psycopg2.UndefinedTable: relation "legacy_schema_sql" does not exist LINE 1: SELECT * FROM legacy_schema_sql ^',
    ]
    with admin.connect() as conn:
        names = conn.execute(sa.text("SELECT datname FROM pg_database")).scalars().all()
    admin.dispose()
    assert not [name for name in names if f"_{os.getpid()}_" in name and name.startswith("pytest_migrations_")]


def test_readme_migrator_example_is_the_one_the_example_project_runs():
    """The README's data test must stay runnable as written: it is examples/blog's own test, verbatim."""
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    example = (root / "examples" / "blog" / "tests" / "test_author_name_split.py").read_text()
    test = example[example.index("def test_full_name_split") :]
    assert f"```python\n{test}```" in readme


ASYNC_ENV_FROM_VARIABLE = (
    ENV_FROM_VARIABLE.replace(
        'connectable = sa.create_engine(os.environ["APP_DATABASE_URL"], poolclass=pool.NullPool)',
        'connectable = create_async_engine(os.environ["APP_DATABASE_URL"], poolclass=pool.NullPool)',
    )
    .replace(
        "import sqlalchemy as sa\n",
        "import asyncio\n\nimport sqlalchemy as sa\nfrom sqlalchemy.ext.asyncio import create_async_engine\n",
    )
    .replace(
        """    with connectable.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata
        )

        with context.begin_transaction():
            context.run_migrations()""",
        """    async def run():
        async with connectable.connect() as connection:
            await connection.run_sync(do_run_migrations)
        await connectable.dispose()

    asyncio.run(run())


def do_run_migrations(connection):
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()""",
    )
)


def test_an_async_url_in_a_variable_stays_async_on_every_engine(project, run_checks, pytester, monkeypatch):
    """DATABASE_URL names aiosqlite; on PostgreSQL and MariaDB env.py gets their async drivers instead."""
    assert "create_async_engine(os.environ" in ASYNC_ENV_FROM_VARIABLE and "run_sync" in ASYNC_ENV_FROM_VARIABLE
    monkeypatch.setenv("APP_DATABASE_URL", f"sqlite+aiosqlite:///{pytester.path / 'app.db'}")
    project(ONE_TABLE, MODELS, env_py=ASYNC_ENV_FROM_VARIABLE, pytest_ini="migrations_url_env = APP_DATABASE_URL\n")
    (pytester.path / "models.py").write_text("import sqlalchemy as sa\n\nmetadata = sa.MetaData()\n" + MODELS)
    pytester.makepyfile(
        test_driver="""
        import os

        def test_env_py_gets_an_async_driver(migrator, migrations_engine):
            migrator.upgrade()
            assert migrator.current() == ("0001",)
        """
    )
    result = run_checks(".", engines="sqlite,postgresql,mysql")
    assert item_outcomes(result) == {
        **expected_outcomes("sqlite,postgresql,mysql"),
        **{f"test_env_py_gets_an_async_driver[{engine}]": "passed" for engine in ("sqlite", "postgresql", "mysql")},
    }
    assert not (pytester.path / "app.db").exists()


def test_a_server_url_naming_an_async_driver_is_used_with_a_sync_one(project, pytester, monkeypatch):
    project(ONE_TABLE, MODELS)
    url = make_url(SERVER_URLS["postgresql"]).set(drivername="postgresql+asyncpg")
    result = pytester.runpytest(
        "--migrations",
        "--migrations-engines=postgresql",
        f"--migrations-postgresql-url={url.render_as_string(hide_password=False)}",
        *QUIET,
    )
    assert item_outcomes(result) == expected_outcomes("postgresql")


def test_a_failing_revision_inside_an_installed_package_is_located(project, run_checks, pytester):
    """A project shipped as a package (its migrations in site-packages) still gets the revision's file:line."""
    project(
        {
            "0001_t": revision(
                "0001",
                None,
                'op.execute("SELECT no_such_column FROM no_such_table")',
                "pass",
            )
        }
    )
    installed = pytester.path / "venv" / "lib" / "python3.11" / "site-packages" / "myapp"
    installed.mkdir(parents=True)
    (pytester.path / "migrations").rename(installed / "migrations")
    ini = pytester.path / "alembic.ini"
    ini.write_text(
        ini.read_text().replace("%(here)s/migrations", "%(here)s/venv/lib/python3.11/site-packages/myapp/migrations")
    )
    result = run_checks()
    path = installed / "migrations" / "versions" / "0001_t.py"
    line = path.read_text().splitlines().index('    op.execute("SELECT no_such_column FROM no_such_table")') + 1
    assert f"at {path}:{line}" in failure_lines(result, "test_upgrade[sqlite]")


APP_SETTINGS = 'import os\n\nDATABASE_URL = os.environ["APP_DATABASE_URL"]  # read once, at import\n'
REVISION_READING_SETTINGS = revision(
    "0002",
    "0001",
    "assert appsettings.DATABASE_URL.startswith(op.get_bind().dialect.name), appsettings.DATABASE_URL\n"
    'assert "pytest_migrations_" in appsettings.DATABASE_URL, appsettings.DATABASE_URL',
    "pass",
).replace("import sqlalchemy as sa\n", "import sqlalchemy as sa\n\nimport appsettings\n")
APP_TEST = """
import importlib

import appsettings


def test_the_app_keeps_its_own_settings():
    assert importlib.import_module("appsettings") is appsettings
    assert appsettings.DATABASE_URL.endswith("app.db")
"""


def test_settings_read_at_import_hold_each_engines_throwaway_url(project, run_checks, pytester, monkeypatch):
    """The app read APP_DATABASE_URL at import, before any run (the model and a revision import it): with the
    variable in migrations_url_env, env.py and the revisions see each engine's throwaway database, the app's
    own database is never opened, and the project's own tests still see the app as it was imported."""
    app_db = pytester.path / "app.db"
    monkeypatch.setenv("APP_DATABASE_URL", f"sqlite:///{app_db}")
    env = ENV_FROM_VARIABLE.replace('os.environ["APP_DATABASE_URL"]', "appsettings.DATABASE_URL").replace(
        "import os\n", "import os\n\nimport appsettings\n"
    )
    project(
        {**ONE_TABLE, "0002_reads_settings": REVISION_READING_SETTINGS},
        MODELS,
        env_py=env,
        pytest_ini="migrations_url_env = APP_DATABASE_URL\nmigrations_metadata = models:metadata\n",
    )
    (pytester.path / "appsettings.py").write_text(APP_SETTINGS)
    (pytester.path / "models.py").write_text(
        "import sqlalchemy as sa\n\nimport appsettings  # noqa: F401\n\nmetadata = sa.MetaData()\n" + MODELS
    )
    pytester.makepyfile(test_app=APP_TEST)
    result = run_checks(".", engines=ALL_ENGINES)
    assert item_outcomes(result) == {**expected_outcomes(ALL_ENGINES), "test_the_app_keeps_its_own_settings": "passed"}
    assert not app_db.exists()  # never opened: no file made


def test_a_variable_read_at_import_and_not_named_is_refused_with_its_name(project, run_checks, pytester, monkeypatch):
    app_db = pytester.path / "app.db"
    monkeypatch.setenv("APP_DATABASE_URL", f"sqlite:///{app_db}")
    env = ENV_FROM_VARIABLE.replace('os.environ["APP_DATABASE_URL"]', "appsettings.DATABASE_URL").replace(
        "import os\n", "import os\n\nimport appsettings\n"
    )
    project(ONE_TABLE, MODELS, env_py=env, pytest_ini="migrations_metadata = models:metadata\n")
    (pytester.path / "appsettings.py").write_text(APP_SETTINGS)
    (pytester.path / "models.py").write_text("import sqlalchemy as sa\n\nmetadata = sa.MetaData()\n" + MODELS)
    result = run_checks()
    lines = failure_lines(result, "test_upgrade[sqlite]")
    assert lines[-1].startswith(f"env.py connected to the sqlite database '{app_db}'")
    assert "name that variable in the migrations_url_env ini key" in lines[-1]
    assert not app_db.exists()  # refused before the driver connected: no file made


def test_an_alembic_ini_named_on_the_command_line_is_the_project_wherever_it_is(pytester, run_checks):
    # A monorepo: pytest's rootdir is the repository, the service's alembic.ini two directories down.
    service = pytester.path / "services" / "api"
    service.mkdir(parents=True)
    write_project(
        service,
        {
            "0001_t": revision(
                "0001",
                None,
                'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))',
                'op.drop_table("t")',
            )
        },
    )
    (service / "pytest.ini").unlink()
    (pytester.path / "pytest.ini").write_text("[pytest]\n")
    result = run_checks("services/api/alembic.ini")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    assert item_outcomes(result, node_ids=True)["services/api/alembic.ini::test_upgrade[sqlite]"] == "passed"


def test_migrations_only_collects_the_checks_and_nothing_else(project, pytester, run_checks):
    project(
        {
            "0001_t": revision(
                "0001",
                None,
                'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))',
                'op.drop_table("t")',
            )
        }
    )
    pytester.makepyfile(test_app="import no_such_module\n\ndef test_app():\n    assert False\n")
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_more.py").write_text("def test_more():\n    assert False\n")
    result = pytester.runpytest("--migrations-only", *QUIET)
    assert result.ret == 0, result.stdout.str()
    assert set(item_outcomes(result)) == set(expected_outcomes())
    assert "no_such_module" not in result.stdout.str()


def test_run_from_the_directory_holding_env_py_points_at_the_revision_file(project, pytester, monkeypatch):
    """alembic.ini beside env.py (`script_location = %(here)s`), pytest run there: the failure's location is the
    revision file, not Alembic's generated `op` code ("<string>:3", which resolved into the cwd)."""
    project({"0001_t": revision("0001", None, 'op.execute("SELECT no_such_column FROM no_such_table")', "pass")})
    migrations = pytester.path / "migrations"
    ini = (pytester.path / "alembic.ini").read_text()
    (migrations / "alembic.ini").write_text(re.sub(r"(?m)^script_location = .*$", "script_location = %(here)s", ini))
    (pytester.path / "alembic.ini").unlink()
    (migrations / "pytest.ini").write_text("[pytest]\n")
    monkeypatch.chdir(migrations)
    result = pytester.runpytest("--migrations", *QUIET)
    path = migrations / "versions" / "0001_t.py"
    line = path.read_text().splitlines().index('    op.execute("SELECT no_such_column FROM no_such_table")') + 1
    assert f"at {path}:{line}" in failure_lines(result, "test_upgrade[sqlite]")
