"""The checks behave as any parametrized pytest test: --lf, --sw, -k, --deselect, junit names."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest

from conftest import item_failure, item_reports, revision

# A downgrade that forgets its column: test_stepwise_roundtrip fails, the others pass.
FORGETFUL = {
    "0001_t": revision(
        "0001", None, 'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("t")'
    ),
    "0002_x": revision("0002", "0001", 'op.add_column("t", sa.Column("x", sa.Integer()))', "pass"),
}
MODELS = 't = sa.Table("t", metadata, sa.Column("id", sa.Integer(), primary_key=True), sa.Column("x", sa.Integer()))\n'
# pytest's cache is what --lf and --sw read: the usual QUIET options turn it off, these keep it.
ARGS = ("--migrations", "-p", "no:hypothesispytest", "-p", "no:benchmark", "-p", "no:randomly")


def ran(result: pytest.RunResult) -> dict[str, str]:
    return {
        report.nodeid: report.outcome
        for report in result.reprec.getreports("pytest_runtest_logreport")
        if report.when == "call" or report.outcome != "passed"
    }


@pytest.fixture
def forgetful(project, pytester):
    project(FORGETFUL, MODELS)
    pytester.makepyfile(test_mine="def test_ok():\n    pass\n\ndef test_bad():\n    assert False\n")


def test_last_failed_reruns_the_failed_checks_beside_ordinary_tests(forgetful, pytester):
    first = pytester.runpytest(*ARGS)
    first.assert_outcomes(passed=7, failed=2)
    again = pytester.runpytest(*ARGS, "--lf")
    assert ran(again) == {
        "alembic.ini::test_stepwise_roundtrip[sqlite]": "failed",
        "test_mine.py::test_bad": "failed",
    }
    again.stdout.fnmatch_lines(["*rerun previous 2 failures*"])


def test_stepwise_continues_from_the_failed_check(forgetful, pytester):
    first = pytester.runpytest(*ARGS, "--sw", "alembic.ini")
    assert ran(first)["alembic.ini::test_stepwise_roundtrip[sqlite]"] == "failed"
    assert "alembic.ini::test_model_matches_migrations[sqlite]" not in ran(first)  # stopped there
    second = pytester.runpytest(*ARGS, "--sw", "alembic.ini")
    assert next(iter(ran(second))) == "alembic.ini::test_stepwise_roundtrip[sqlite]"


def test_keyword_and_deselect_pick_checks_by_name_and_engine(forgetful, pytester):
    picked = pytester.runpytest(*ARGS, "alembic.ini", "-k", "roundtrip and not stepwise")
    assert set(ran(picked)) == {"alembic.ini::test_roundtrip[sqlite]"}
    assert "data coverage" not in picked.stdout.str()  # the data check did not run
    rest = pytester.runpytest(
        *ARGS, "alembic.ini", "--deselect", "alembic.ini::test_stepwise_roundtrip[sqlite]", "-k", "not test_single"
    )
    assert set(ran(rest)) == {
        f"alembic.ini::{check}[sqlite]"
        for check in (
            "test_upgrade",
            "test_downgrade",
            "test_roundtrip",
            "test_model_matches_migrations",
            "test_data_preserved",
        )
    }
    assert "data coverage" in rest.stdout.str()


def test_junit_names_a_check_as_a_parametrized_test_and_its_property_is_json(forgetful, pytester):
    pytester.runpytest(*ARGS, "alembic.ini", "--junitxml=out.xml")
    xml = (pytester.path / "out.xml").read_text()
    assert 'classname="alembic.ini" name="test_stepwise_roundtrip[sqlite]"' in xml
    case = ElementTree.fromstring(xml).find(".//testcase[@name='test_upgrade[sqlite]']")
    assert case is not None
    record = json.loads(case.find("properties/property[@name='pytest_migrations']").get("value"))
    assert record["check"] == "test_upgrade" and record["engine"] == "sqlite"
    # 0002's re-upgrade fails on what its downgrade left: the walk goes on from a database rebuilt to 0002.
    assert record["revisions"] == record["walked"] == 2 and record["walks"] == 2
    assert record["reach"]["test_stepwise_roundtrip"] == [2, 2] and record["reach"]["test_upgrade"] == [2, 2]


def test_the_summary_does_not_claim_a_walk_that_did_not_happen(project, pytester):
    root = project(FORGETFUL, MODELS)
    env = root / "migrations" / "env.py"
    env.write_text(
        env.read_text().replace("config = context.config\n", 'config = context.config\nraise RuntimeError("boom")\n')
    )
    result = pytester.runpytest(*ARGS, "-p", "no:cacheprovider", "alembic.ini")
    result.stdout.fnmatch_lines(["sqlite: no revision walked, of 2"])
    assert "revisions walked in" not in result.stdout.str()


def test_sys_path_is_left_as_pytest_set_it(project, pytester):
    """The project's directory is on sys.path while the plugin loads its code and runs env.py, not after."""
    project(FORGETFUL, MODELS)
    tests = pytester.path / "tests"
    tests.mkdir()
    (tests / "test_paths.py").write_text(
        "import sys\n\n"
        f"PROJECT = {str(pytester.path)!r}\n\n"
        "def test_the_project_directory_is_not_on_sys_path():\n"
        "    assert PROJECT not in sys.path\n"
    )
    result = pytester.runpytest(*ARGS, "-p", "no:cacheprovider")
    outcomes = ran(result)
    assert outcomes["tests/test_paths.py::test_the_project_directory_is_not_on_sys_path"] == "passed"
    assert outcomes["alembic.ini::test_model_matches_migrations[sqlite]"] == "passed"  # env.py imported models
    assert list(outcomes).index("alembic.ini::test_upgrade[sqlite]") < list(outcomes).index(
        "tests/test_paths.py::test_the_project_directory_is_not_on_sys_path"
    )


RAISING_HELPER = {
    "0001_calls_a_helper": revision(
        "0001",
        None,
        "fill_defaults()",
        "pass",
    ).replace(
        "def upgrade():",
        'def fill_defaults():\n    raise RuntimeError("no default for account.plan")\n\n\ndef upgrade():',
    ),
}


def test_tb_long_adds_the_original_errors_whole_traceback(project, run_checks):
    """The message is the same in every style; --tb=long adds every frame of the error behind it."""
    project(RAISING_HELPER)
    short = item_failure(run_checks(), "test_upgrade[sqlite]")
    long = item_failure(run_checks("--tb=long"), "test_upgrade[sqlite]")
    assert "RuntimeError: no default for account.plan" in short
    assert "Traceback (most recent call last)" not in short and "in fill_defaults" not in short
    assert long.startswith(short.rstrip())
    assert "The original error (--tb=long):\nTraceback (most recent call last):" in long
    assert ", in upgrade\n" in long and ", in fill_defaults\n" in long
    assert long.rstrip().endswith("RuntimeError: no default for account.plan")


WARNING_MODELS = """
import warnings

warnings.warn("these models use an old API", DeprecationWarning)

t = sa.Table("t", metadata, sa.Column("id", sa.Integer(), primary_key=True))
"""
ONE_TABLE = {
    "0001_t": revision(
        "0001", None, 'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("t")'
    )
}


@pytest.mark.parametrize("hidden", [False, True], ids=["shown", "ignored"])
def test_a_warning_the_project_raises_as_it_loads_obeys_the_project_s_filters(project, pytester, hidden):
    """The metadata (or a Flask app) is loaded while pytest configures, before its warning filters apply:
    its warnings go to the warnings summary, where `-W ignore::...` and filterwarnings decide."""
    project(ONE_TABLE, WARNING_MODELS, pytest_ini="migrations_metadata = models:metadata\n")
    options = ["-W", "ignore::DeprecationWarning"] if hidden else []
    result = pytester.runpytest_subprocess("--migrations", "-p", "no:cacheprovider", *options)
    result.assert_outcomes(passed=7)
    assert "these models use an old API" not in result.stderr.str()
    out = result.stdout.str()
    if hidden:
        assert "these models use an old API" not in out
    else:
        assert out.count("DeprecationWarning: these models use an old API") == 1
        assert out.index("warnings summary") < out.index("these models use an old API")


PRICED = {
    "0001_item": revision(
        "0001",
        None,
        'op.create_table("item", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("price", sa.Numeric(8, 2)))',
        'op.drop_table("item")',
    )
}
PRICED_MODELS = 'item = sa.Table("item", metadata, sa.Column("id", sa.Integer(), primary_key=True), sa.Column("price", sa.Numeric(8, 2)))\n'
READS_PRICES = """
from decimal import Decimal


def test_prices(migrator):
    migrator.upgrade()
    migrator.insert("item", [{"id": 1, "price": Decimal("2.50")}])
    assert migrator.rows("item") == [{"id": 1, "price": Decimal("2.50")}]
"""


def test_the_plugin_s_own_reads_of_numeric_columns_raise_no_warning(project, pytester):
    """SQLAlchemy 1.4 warns on reading a Numeric column from SQLite; the plugin's own reads (the data check,
    migrator.rows) must neither report that as the project's warning nor fail a `filterwarnings = error` run."""
    project(PRICED, PRICED_MODELS, pytest_ini="filterwarnings = error\n")
    pytester.makepyfile(test_prices=READS_PRICES)
    result = pytester.runpytest_subprocess("--migrations", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)
    assert "support Decimal" not in result.stdout.str() + result.stderr.str()


def test_alembic_s_log_names_each_step_as_alembic_does(project, run_checks):
    """env.py's logging shows `Running upgrade  -> 0001, ...` and `Running downgrade ...` for the walk's steps,
    as under `alembic upgrade`, not the name of the plugin's wrapper."""
    project(ONE_TABLE)
    result = run_checks("-rA", "-v")  # with -v: what the steps that worked logged is kept
    logged = "\n".join(
        text for report in item_reports(result).values() for title, text in report.sections if "Captured" in title
    )
    assert "Running upgrade  -> 0001" in logged, logged
    assert "Running downgrade 0001 -> " in logged, logged
    assert "Running run" not in logged


def test_without_v_alembic_s_info_lines_are_left_out_of_the_captured_output(project, run_checks):
    project(ONE_TABLE)
    result = run_checks("-rA")
    logged = "\n".join(
        text for report in item_reports(result).values() for title, text in report.sections if "Captured" in title
    )
    assert "Running upgrade" not in logged and "Context impl" not in logged, logged
