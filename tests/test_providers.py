"""Where servers come from: the selection rules, and what a user sees when none can be had."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from conftest import QUIET, SERVER_URLS, item_failure, item_outcomes, revision
from pytest_migrations.providers import make_url, with_driver

ONE = {
    "0001_t": revision(
        "0001", None, 'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("t")'
    )
}


def test_an_image_setting_selects_docker_and_without_docker_the_items_fail(project, pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_MIGRATIONS_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # no Docker engine, even where one runs
    project(ONE, pytest_ini="migrations_postgresql_image = postgres:16-alpine\n")
    result = pytester.runpytest("--migrations", "--migrations-engines=postgresql", *QUIET)
    # The image wins over the URL: the user asked for a container.
    result.assert_outcomes(passed=1, failed=1, skipped=5)
    result.stdout.fnmatch_lines(
        ["*test_upgrade[[]postgresql[]] could not run: no postgresql server is available (docker: *"]
    )
    result.stdout.fnmatch_lines(["*(1) a URL: --migrations-postgresql-url*(2) local server binaries*(3) Docker*"])


def test_a_url_that_does_not_work_is_an_error_not_a_reason_to_start_a_local_server(project, pytester):
    project(ONE)
    result = pytester.runpytest(
        "--migrations",
        "--migrations-engines=mysql",
        "--migrations-mysql-url=mysql+pymysql://root:hunter2@127.0.0.1:1/mysql",
        *QUIET,
    )
    result.assert_outcomes(passed=1, failed=1, skipped=5)
    result.stdout.fnmatch_lines(
        [
            "*could not run: cannot connect to mysql+pymysql://root:***@127.0.0.1:1/mysql (server URL from --migrations-mysql-url)*"
        ]
    )
    assert "hunter2" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg2://postgres@127.0.0.1:1/postgres?password=hunter2",  # both drivers accept it
        "postgresql+psycopg2://postgres:hunter2@pw@127.0.0.1:1/postgres",  # an @ left unencoded
        "postgresql+psycopg2://postgres:hunter2 @pw/x@127.0.0.1:1/postgres",  # a space and a slash
        "postgresql+psycopg2://postgres@127.0.0.1:1/postgres?sslpassword=hunter2",
    ],
)
def test_passwords_are_masked_wherever_the_url_holds_them(project, pytester, monkeypatch, url):
    project(ONE)
    monkeypatch.setenv("PYTEST_MIGRATIONS_POSTGRESQL_URL", url)
    result = pytester.runpytest("--migrations", "--migrations-engines=postgresql", "-rA", "-l", *QUIET)
    result.assert_outcomes(passed=1, failed=1, skipped=5)
    result.stdout.fnmatch_lines(["*(server URL from PYTEST_MIGRATIONS_POSTGRESQL_URL)*"])
    output = result.stdout.str() + result.stderr.str()
    assert "hunter2" not in output and "pw@" not in output and "pw/x" not in output


def test_a_url_naming_a_driver_that_is_not_installed_says_what_to_install(project, pytester):
    project(ONE)
    result = pytester.runpytest(
        "--migrations",
        "--migrations-engines=sqlite,postgresql",
        "--migrations-postgresql-url=postgresql+pg8000://postgres:hunter2@127.0.0.1:5432/postgres",
        *QUIET,
    )
    # SQLite still runs; the PostgreSQL items fail with one readable line, not an INTERNALERROR.
    result.assert_outcomes(passed=6, skipped=6, failed=1)  # ONE has no model: its model check skips
    result.stdout.fnmatch_lines(
        [
            "*could not run: cannot use postgresql+pg8000://postgres:***@127.0.0.1:5432/postgres: "
            "SQLAlchemy cannot load its driver 'pg8000' (*). Install it with `pip install pg8000`, "
            "or write postgresql+psycopg2://..., which is installed.*"
        ]
    )
    assert "hunter2" not in result.stdout.str() + result.stderr.str()


def test_unknown_engine_and_provider_names_are_usage_errors(project, pytester):
    project(ONE)
    result = pytester.runpytest("--migrations", "--migrations-engines=sqlite,oracle", *QUIET)
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*unknown engine 'oracle'*choose from sqlite, postgresql, mysql*"])
    (pytester.path / "pytest.ini").write_text("[pytest]\nmigrations_provider = cloud\n")
    result = pytester.runpytest("--migrations", *QUIET)
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*migrations_provider must be one of url, local, docker, got 'cloud'*"])


def test_mariadb_and_postgres_are_accepted_as_engine_aliases(project, pytester):
    project(ONE)
    result = pytester.runpytest("--migrations", "--migrations-engines=sqlite", "--co", "-q", *QUIET)
    result.stdout.fnmatch_lines(["*test_upgrade[[]sqlite[]]"])
    result = pytester.runpytest("--migrations", "--migrations-engines=mariadb,postgres", "--co", "-q", *QUIET)
    result.stdout.fnmatch_lines(["*test_upgrade[[]mysql[]]", "*test_upgrade[[]postgresql[]]"])


@pytest.fixture
def account_without_create_rights():
    """A PostgreSQL role and a MariaDB user that can log in but not create databases; removed afterwards."""

    from pytest_migrations.providers import with_driver

    name = "pm_no_create"
    statements = {
        "postgresql": ([f"CREATE ROLE {name} LOGIN NOCREATEDB"], [f"DROP ROLE IF EXISTS {name}"]),
        "mysql": (  # %% for the driver's paramstyle
            [f"CREATE USER '{name}'@'%%'", f"GRANT SELECT ON mysql.* TO '{name}'@'%%'"],
            [f"DROP USER IF EXISTS '{name}'@'%%'"],
        ),
    }
    engines = {}
    for engine, raw in SERVER_URLS.items():
        url = with_driver(sa.engine.make_url(raw), engine)
        engines[engine] = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with engines[engine].connect() as conn:
            for statement in statements[engine][1] + statements[engine][0]:
                conn.exec_driver_sql(statement)
    try:
        yield {
            engine: sa.engine.make_url(raw).set(username=name, password=None).render_as_string(hide_password=False)
            for engine, raw in SERVER_URLS.items()
        }
    finally:
        for engine, admin in engines.items():
            with admin.connect() as conn:
                for statement in statements[engine][1]:
                    conn.exec_driver_sql(statement)
            admin.dispose()


def test_an_account_that_cannot_create_databases_gets_one_line_saying_so(
    project, pytester, monkeypatch, account_without_create_rights
):
    project(ONE)
    for engine, url in account_without_create_rights.items():
        monkeypatch.setenv(f"PYTEST_MIGRATIONS_{engine.upper()}_URL", url)
    result = pytester.runpytest("--migrations", "--migrations-engines=postgresql,mysql", *QUIET)
    result.assert_outcomes(passed=1, failed=2, skipped=10)  # test_single_head (one per history) needs no database
    result.stdout.fnmatch_lines(
        [
            "*test_upgrade[[]postgresql[]] could not run: cannot create a throwaway database on "
            "postgresql+psycopg2://pm_no_create@127.0.0.1:5432/postgres (server URL from "
            "PYTEST_MIGRATIONS_POSTGRESQL_URL): permission denied to create database. The account in the URL must "
            "be allowed to create and drop databases whose names start with pytest_migrations_: give it that right "
            '(ALTER ROLE "pm_no_create" CREATEDB) or use one that has it.',
            "*test_upgrade[[]mysql[]] could not run: cannot create a throwaway database on *(1044, *"
            "(GRANT ALL PRIVILEGES ON `pytest\\_migrations\\_%`.* TO 'pm_no_create'@'%') or use one that has it.",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_url_that_cannot_be_read_fails_its_engine_items_with_how_to_write_one(project, pytester):
    project(ONE)
    result = pytester.runpytest(
        "--migrations",
        "--migrations-engines=sqlite,postgresql",
        "--migrations-postgresql-url=postgresql://postgres:hunter2@127.0.0.1:abc/postgres",
        *QUIET,
    )
    result.assert_outcomes(passed=6, skipped=6, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_upgrade[[]postgresql[]] could not run: postgresql://postgres:***@127.0.0.1:abc/postgres is not a "
            "database URL SQLAlchemy can read; write it as postgresql://user@host:port/database or "
            "mysql+pymysql://user@host:port/database, with a numeric port*"
        ]
    )
    assert "hunter2" not in result.stdout.str() + result.stderr.str()


def test_a_password_env_py_prints_is_masked_in_the_report(project, pytester):
    """env.py prints its URL (throwaway databases carry the server's password); the report hides it."""
    root = project(ONE)
    env = root / "migrations" / "env.py"
    text, count = re.subn(  # older Alembic templates have no `-> None`
        r"^(def run_migrations_online\(\)(?: -> None)?:\n)",
        r'\1    print("connecting to", config.get_main_option("sqlalchemy.url"))\n',
        env.read_text(),
        flags=re.M,
    )
    assert count == 1, text
    env.write_text(text)
    pytester.makepyfile(test_mine="def test_fails(migrator):\n    migrator.upgrade()\n    assert False\n")
    # Trust auth ignores the password, so the run works and the password is only ever printed.
    url = with_driver(make_url(SERVER_URLS["postgresql"]), "postgresql").set(password="hunter2secret")
    result = pytester.runpytest(
        "--migrations",
        "--migrations-engines=postgresql",
        f"--migrations-postgresql-url={url.render_as_string(hide_password=False)}",
        "-rA",
        *QUIET,
    )
    output = result.stdout.str() + result.stderr.str()
    assert "connecting to postgresql+psycopg2://postgres:***@127.0.0.1" in output  # printed, and masked
    assert "hunter2secret" not in output


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_a_server_that_accepts_and_never_answers_fails_after_the_timeout(project, pytester, engine):
    """A listening socket nobody reads: the TCP handshake completes, the database's never does."""
    project(ONE)
    (pytester.path / "pytest.ini").write_text("[pytest]\nmigrations_connect_timeout = 2\n")
    with socket.create_server(("127.0.0.1", 0), backlog=8) as silent:
        port = silent.getsockname()[1]
        scheme = "postgresql" if engine == "postgresql" else "mysql+pymysql"
        url = f"{scheme}://someone:hunter2@127.0.0.1:{port}/db"
        started = time.monotonic()
        result = pytester.runpytest(
            "--migrations", f"--migrations-engines={engine}", f"--migrations-{engine}-url={url}", *QUIET
        )
        waited = time.monotonic() - started
    result.assert_outcomes(passed=1, failed=1, skipped=5)  # test_single_head reads files only
    result.stdout.fnmatch_lines(
        [
            f"*could not run: cannot connect to {scheme.split('+')[0]}+*://someone:***@127.0.0.1:{port}/db (server URL from "
            "--migrations-*-url) in 2 s: it accepts connections but does not answer "
            "(migrations_connect_timeout = 2 sets how long to wait)*"
        ]
    )
    assert "hunter2" not in result.stdout.str()
    assert waited < 30  # one wait for the engine, not one per item


@contextmanager
def silent_to_throwaway_databases(server_url: str) -> Iterator[int]:
    """A TCP proxy to a real server that forwards every connection except those opening a throwaway database.

    The client's first packet names the database (PostgreSQL's startup message, MySQL's handshake
    response); when it names one of ours, the proxy keeps the connection open and never answers again.
    Yields the proxy's port.
    """
    target = make_url(server_url)
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def forward(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass

    def serve(client: socket.socket) -> None:
        upstream = socket.create_connection((target.host, target.port))
        held.extend((client, upstream))
        threading.Thread(target=forward, args=(upstream, client), daemon=True).start()
        first = client.recv(65536)
        if b"pytest_migrations_" in first:
            upstream.shutdown(socket.SHUT_RDWR)  # the client waits for an answer that never comes
            return
        upstream.sendall(first)
        forward(client, upstream)

    def accept() -> None:
        try:
            while True:
                client, _ = listener.accept()
                threading.Thread(target=serve, args=(client,), daemon=True).start()
        except OSError:
            pass  # the listener was closed

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        for sock in held:
            sock.close()


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_a_throwaway_database_the_server_never_answers_for_fails_after_the_timeout(project, pytester, engine):
    """The admin connection works; connections to the throwaway databases (env.py's own engine) are never answered."""
    project(ONE)
    (pytester.path / "pytest.ini").write_text("[pytest]\nmigrations_connect_timeout = 2\n")
    with silent_to_throwaway_databases(SERVER_URLS[engine]) as port:
        url = make_url(SERVER_URLS[engine]).set(host="127.0.0.1", port=port)
        if engine == "postgresql":
            url = url.update_query_dict({"sslmode": "disable"})  # the startup message in clear, for the proxy to read
        result = pytester.runpytest(
            "--migrations",
            f"--migrations-engines={engine}",
            f"--migrations-{engine}-url={url.render_as_string(hide_password=False)}",
            *QUIET,
        )
    assert item_outcomes(result)[f"test_upgrade[{engine}]"] == "failed"
    assert (
        f"the {engine} server at 127.0.0.1:{port} accepted a connection to the throwaway database pytest_migrations_"
        in item_failure(result, f"test_upgrade[{engine}]")
    )
    result.stdout.fnmatch_lines(
        ["*and did not answer in 2 s (migrations_connect_timeout = 2 sets how long to wait): *"]
    )


def test_the_header_and_summary_name_each_engine_s_server(project, pytester, monkeypatch):
    project(ONE)
    # Trust auth ignores the password: the run works, and the URL is only ever shown, masked.
    pg = with_driver(make_url(SERVER_URLS["postgresql"]), "postgresql").set(password="hunter2")
    monkeypatch.setenv("PYTEST_MIGRATIONS_MYSQL_URL", SERVER_URLS["mysql"])
    result = pytester.runpytest(
        "--migrations",
        "--migrations-engines=sqlite,postgresql,mysql",
        f"--migrations-postgresql-url={pg.render_as_string(hide_password=False)}",
        *QUIET,
    )
    shown_pg = pg.render_as_string(hide_password=True)
    shown_my = SERVER_URLS["mysql"]
    result.stdout.fnmatch_lines(
        [
            "migrations: sqlite from SQLite files in a temp dir",
            f"migrations: postgresql from server URL {shown_pg} (--migrations-postgresql-url)",
            f"migrations: mysql from server URL {shown_my} (PYTEST_MIGRATIONS_MYSQL_URL)",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*pytest-migrations summary*",
            "mysql: 1 revision walked*",
            f"  server  mysql 10.*-MariaDB* from server URL {shown_my} (PYTEST_MIGRATIONS_MYSQL_URL)",
            "postgresql: 1 revision walked*",
            f"  server  postgresql 1* from server URL {shown_pg} (--migrations-postgresql-url)",
            "sqlite: 1 revision walked*",
            "  server  sqlite 3.* from SQLite files in a temp dir",
        ]
    )
    assert "hunter2" not in result.stdout.str() + result.stderr.str()
