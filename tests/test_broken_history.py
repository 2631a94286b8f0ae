"""A history nobody ever downgraded: many failing downgrades, one walk, a verdict on every revision."""

from __future__ import annotations

import re

from conftest import expected_outcomes, failure_lines, item_failure, item_outcomes, revision

# Ten downgrades that fail, each in a way real histories do; every one fails at its first statement.
FAILING_DOWNGRADES = [
    'raise NotImplementedError("no way back")',
    'op.drop_column("t", "never_there")',
    'op.drop_table("no_such_table")',
    'op.drop_index("ix_no_such_index", table_name="t")',
    'op.execute("DELETE FROM no_such_table")',
    'op.drop_constraint(None, "t", type_="foreignkey")',  # as autogenerate writes an unnamed constraint
    'op.alter_column("no_such_table", "c", new_column_name="d")',
    'op.execute("THIS IS NOT SQL")',
    'raise RuntimeError("forgot to write this downgrade")',
    'op.rename_table("no_such_table", "other")',
]


def broken_history() -> dict[str, str]:
    """0001 makes t; 0002..0011 each add a column, with a downgrade that fails; 0012 loses rows of t."""
    revisions = {
        "0001_t": revision(
            "0001",
            None,
            'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(20)))',
            'op.drop_table("t")',
        )
    }
    for number, downgrade in enumerate(FAILING_DOWNGRADES, start=2):
        rev = f"{number:04d}"
        revisions[f"{rev}_c{number}"] = revision(
            rev,
            f"{number - 1:04d}",
            f'op.add_column("t", sa.Column("c{number}", sa.Integer()))',
            downgrade,
            message=f"column c{number}",
        )
    revisions["0012_purge"] = revision(
        "0012", "0011", 'op.execute("DELETE FROM t WHERE id % 2 = 0")', "pass", message="purge"
    )
    return revisions


MODELS = "t = sa.Table('t', metadata, sa.Column('id', sa.Integer(), primary_key=True), sa.Column('name', sa.String(20)), {})\n".format(
    ", ".join(f"sa.Column('c{n}', sa.Integer())" for n in range(2, 12))
)


def test_ten_failing_downgrades_get_a_verdict_on_every_revision_in_one_walk(project, run_checks, engine):
    project(broken_history(), MODELS)
    result = run_checks(engines=engine)
    assert item_outcomes(result) == expected_outcomes(
        engine, test_stepwise_roundtrip="failed", test_downgrade="failed", test_data_preserved="failed"
    )
    assert re.search(rf"{engine}: 12 revisions walked in [\d.]+s \(1 walk\)", result.stdout.str())

    # Each failing revision is named once, in full, by the check that met it: the stepwise cycle.
    stepwise = item_failure(result, f"test_stepwise_roundtrip[{engine}]")
    for number in range(2, 12):
        rev = f"{number:04d}"
        assert stepwise.count(f'downgrade of {rev} ("column c{number}"') == 1, rev
        assert stepwise.count(f"migrations_irreversible = {rev}") == 1, rev
    assert "0001" not in stepwise and "0012" not in stepwise

    # head -> base stops at the first failing downgrade from the top, and points there.
    assert failure_lines(result, f"test_downgrade[{engine}]")[1:] == [
        f"the downgrade of 0011 fails (see test_stepwise_roundtrip[{engine}]); head -> base stops there."
    ]
    assert f"note (test_roundtrip): from 0011 up: its downgrade fails (see test_downgrade[{engine}])" in (
        result.stdout.str()
    )
    # The data check went past all ten, with its rows: it catches the loss in the last revision.
    data = failure_lines(result, f"test_data_preserved[{engine}]")
    assert data[1].startswith("upgrade 0011 -> 0012 lost ") and " rows of t: " in data[1]
    assert data[-1] == "If this loss is intended, declare it in the pytest ini: migrations_allow_data_loss = 0012"


def test_a_declared_irreversible_revision_dropping_a_column_with_values_passes_with_a_note(project, run_checks, engine):
    revisions = broken_history()
    revisions = {"0001_t": revisions["0001_t"]}
    revisions["0002_drop_name"] = revision(
        "0002", "0001", 'op.drop_column("t", "name")', 'raise NotImplementedError("the names are gone")'
    )
    project(
        revisions,
        "t = sa.Table('t', metadata, sa.Column('id', sa.Integer(), primary_key=True))\n",
        pytest_ini="migrations_irreversible = 0002\n",
    )
    result = run_checks(engines=engine)
    assert item_outcomes(result) == expected_outcomes(engine)
    assert re.search(
        r"note \(test_data_preserved\): upgrade 0001 -> 0002 dropped column t\.name holding values in \d+ of \d+ "
        r"rows: .* \(intended: 0002 is declared in migrations_irreversible\)",
        result.stdout.str(),
    )
