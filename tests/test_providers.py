"""Where servers come from: the selection rules, and what a user sees when none can be had."""

from __future__ import annotations

from conftest import QUIET, revision

ONE = {
    "0001_t": revision(
        "0001", None, 'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("t")'
    )
}


def test_an_image_setting_selects_docker_and_without_docker_the_items_fail(project, pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_MIGRATIONS_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    project(ONE, pytest_ini="migrations_postgresql_image = postgres:16-alpine\n")
    result = pytester.runpytest("--migrations", "--migrations-engines=postgresql", *QUIET)
    # The image wins over the URL: the user asked for a container.
    result.assert_outcomes(passed=1, failed=6)
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
    result.assert_outcomes(passed=1, failed=6)
    result.stdout.fnmatch_lines(
        ["*could not run: cannot connect to mysql+pymysql://root:***@127.0.0.1:1/mysql (server URL)*"]
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
