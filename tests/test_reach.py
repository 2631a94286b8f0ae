"""A pass means checked: no check passes over revisions it did not reach, but for a range the user declared."""

from __future__ import annotations

import json

from test_broken_history import ADOPTED, ADOPTED_MODELS

from conftest import failure_lines, item_failure, item_outcomes, item_reports, revision, skip_reason

PASS_DOWNGRADES = {
    f"000{n}_c{n}": revision(
        f"000{n}",
        f"000{n - 1}" if n > 1 else None,
        'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))'
        if n == 1
        else f'op.add_column("t", sa.Column("c{n}", sa.Integer()))',
        "pass",
        message=f"step {n}",
    )
    for n in (1, 2, 3)
}
PASS_MODELS = "t = sa.Table('t', metadata, sa.Column('id', sa.Integer(), primary_key=True), sa.Column('c2', sa.Integer()), sa.Column('c3', sa.Integer()))\n"


def test_from_create_all_a_head_that_cannot_go_down_leaves_nothing_passing_unchecked(project, run_checks, engine):
    broken = ADOPTED["0002_orders"].replace(
        'op.drop_index("ix_orders_total", table_name="orders")', 'raise NotImplementedError("no way back")'
    )
    project({**ADOPTED, "0002_orders": broken}, ADOPTED_MODELS, pytest_ini="migrations_start = create_all\n")
    result = run_checks(engines=engine)
    # What the walk could check passes (one head, the model), the failing downgrade fails, and every check
    # that needed a revision below head says it checked nothing, rather than passing.
    assert item_outcomes(result) == {
        "test_single_head": "passed",
        f"test_model_matches_migrations[{engine}]": "passed",
        f"test_downgrade[{engine}]": "failed",
        # Not passed: they checked nothing, and point at test_downgrade, which fails (one cause, one failure).
        f"test_upgrade[{engine}]": "skipped",
        f"test_stepwise_roundtrip[{engine}]": "skipped",
        f"test_roundtrip[{engine}]": "skipped",
        f"test_data_preserved[{engine}]": "skipped",
    }
    why = (
        f"the walk down from head stops at 0002, whose downgrade fails (see test_downgrade[{engine}]); "
        "if it is meant to be irreversible, declare it: migrations_irreversible = 0002"
    )
    for check in ("test_upgrade", "test_stepwise_roundtrip", "test_data_preserved"):
        reason = skip_reason(result, f"{check}[{engine}]")
        assert reason == f"not checked: 0002 and the 1 below it (2 of 2 revisions): {why}", check
    assert failure_lines(result, f"test_downgrade[{engine}]")[-1].endswith("NotImplementedError: no way back")
    # Without test_downgrade in the run, they fail, each carrying the cause itself.
    result = run_checks("--deselect", f"alembic.ini::test_downgrade[{engine}]", engines=engine)
    lines = failure_lines(result, f"test_upgrade[{engine}]")
    assert lines[1] == f"not checked: 0002 and the 1 below it (2 of 2 revisions): {why}"
    assert lines[-1].endswith("NotImplementedError: no way back")


def test_from_base_a_failing_downgrade_stops_the_roundtrip_which_says_what_it_did_not_check(project, run_checks):
    history = dict(PASS_DOWNGRADES)
    history["0003_c3"] = history["0003_c3"].replace(
        "def downgrade():\n    pass", 'def downgrade():\n    raise RuntimeError("no")'
    )
    project(history, PASS_MODELS)
    result = run_checks()
    assert skip_reason(result, "test_roundtrip[sqlite]") == (
        "not checked: 0003 and the 2 below it (3 of 3 revisions): the walk down from head stops at 0003, whose "
        "downgrade fails (see test_downgrade[sqlite]); if it is meant to be irreversible, declare it: "
        "migrations_irreversible = 0003"
    )


def test_a_declared_range_passes_and_says_what_it_covered(project, run_checks):
    history = dict(PASS_DOWNGRADES)
    history["0001_c1"] = history["0001_c1"].replace(
        "def downgrade():\n    pass", 'def downgrade():\n    op.drop_table("t")'
    )
    history["0003_c3"] = history["0003_c3"].replace(
        "def downgrade():\n    pass", 'def downgrade():\n    op.drop_column("t", "c3")'
    )
    project(history, PASS_MODELS, pytest_ini="migrations_irreversible = 0002\n")
    result = run_checks()
    assert set(item_outcomes(result).values()) == {"passed"}
    out = result.stdout.str()
    declared = "0003 to head checked; 0002 and below not checked: declared irreversible (migrations_irreversible)"
    assert f"note (test_downgrade): {declared}" in out
    assert f"note (test_roundtrip): {declared}" in out
    assert "revisions checked: upgraded 3/3, cycled 2/2, downgraded 1/1, upgraded again 1/1, data-checked 3/3" in out


def test_an_upgrade_only_history_skips_the_downgrade_checks_and_checks_every_upgrade(project, run_checks, engine):
    project(PASS_DOWNGRADES, PASS_MODELS, pytest_ini="migrations_irreversible = *\n")
    result = run_checks(engines=engine)
    outcomes = item_outcomes(result)
    for check in ("test_stepwise_roundtrip", "test_downgrade", "test_roundtrip"):
        assert outcomes.pop(f"{check}[{engine}]") == "skipped", check
    assert set(outcomes.values()) == {"passed"}
    reason = item_reports(result)[f"test_downgrade[{engine}]"].longrepr[2]
    assert "migrations_irreversible = * declares the history upgrade-only" in reason
    record = json.loads(dict(item_reports(result)[f"test_upgrade[{engine}]"].user_properties)["pytest_migrations"])
    assert record["reach"]["test_upgrade"] == [3, 3]
    assert record["reach"]["test_data_preserved"] == [3, 3]
    assert "downgrade of" not in result.stdout.str()  # no failure, no note per `pass` downgrade


# create_all: a revision that creates a table its own downgrade drops loses nothing.
NOTES = {
    **ADOPTED,
    "0003_note": revision(
        "0003",
        "0002",
        'op.create_table("note", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("body", sa.Text()))',
        'op.drop_table("note")',
        message="note",
    ),
}
NOTE_MODEL = ADOPTED_MODELS + (
    'note = sa.Table("note", metadata, sa.Column("id", sa.Integer(), primary_key=True), sa.Column("body", sa.Text()))\n'
)


def test_from_create_all_a_table_a_revision_creates_and_drops_loses_nothing(project, run_checks, engine):
    project(NOTES, NOTE_MODEL, pytest_ini="migrations_start = create_all\n")
    result = run_checks(engines=engine)
    assert set(item_outcomes(result).values()) == {"passed"}, result.stdout.str()
    assert "lost" not in result.stdout.str()


def test_a_failing_create_all_says_so_and_names_the_prepare_hook(project, run_checks):
    models = ADOPTED_MODELS + (
        'bad = sa.Table("bad", metadata, sa.Column("id", sa.Integer(), primary_key=True), '
        'sa.Column("c", sa.Integer(), sa.CheckConstraint("no_such_function(c) > 0")))\n'
    )
    project(ADOPTED, models, pytest_ini="migrations_start = create_all\n")
    result = run_checks(engines="postgresql")
    lines = failure_lines(result, "test_upgrade[postgresql]")
    assert lines[1].startswith("migrations_start = create_all: metadata.create_all failed on postgresql")
    assert "pytest_migrations_prepare_database" in lines[1]
    assert lines[-1].startswith("psycopg2.errors.UndefinedFunction") or "no_such_function" in lines[-1]
    assert "could not inspect" not in result.stdout.str()


def test_from_create_all_drift_is_told_once_by_the_model_check(project, run_checks, engine):
    """The model has a column no revision creates: only test_model_matches_migrations says so."""
    drifted = ADOPTED_MODELS.replace(
        '    sa.Column("total", sa.Numeric(10, 2), nullable=False, index=True),\n',
        '    sa.Column("total", sa.Numeric(10, 2), nullable=False, index=True),\n    sa.Column("note", sa.String(40)),\n',
    )
    assert drifted != ADOPTED_MODELS
    project(ADOPTED, drifted, pytest_ini="migrations_start = create_all\n")
    result = run_checks(engines=engine)
    outcomes = item_outcomes(result)
    assert outcomes.pop(f"test_model_matches_migrations[{engine}]") == "failed"
    assert set(outcomes.values()) == {"passed"}, result.stdout.str()
    assert "orders.note" in item_failure(result, f"test_model_matches_migrations[{engine}]")
