"""Discovery: where the config and metadata come from, and what the plugin leaves alone."""

from __future__ import annotations

import textwrap

from conftest import revision

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
