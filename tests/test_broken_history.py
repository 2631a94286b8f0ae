"""A history nobody ever downgraded: many failing downgrades, one walk, a verdict on every revision."""

from __future__ import annotations

import re

from conftest import expected_outcomes, failure_lines, item_failure, item_outcomes, revision, skip_reason

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
        engine,
        test_stepwise_roundtrip="failed",
        test_downgrade="skipped",  # one cause, one failure: they point at test_stepwise_roundtrip
        test_data_preserved="failed",
        test_roundtrip="skipped",
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
    assert skip_reason(result, f"test_downgrade[{engine}]") == (
        f"the downgrade of 0011 fails (see test_stepwise_roundtrip[{engine}]); head -> base stops there."
    )
    # The round trip checked 0012 only: it says so instead of passing.
    assert skip_reason(result, f"test_roundtrip[{engine}]") == (
        "not checked: 0011 and the 10 below it (11 of 12 revisions): the walk down from head stops at 0011, whose "
        f"downgrade fails (see test_downgrade[{engine}]); if it is meant to be irreversible, declare it: "
        "migrations_irreversible = 0011"
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


# A history adopted late: the app's tables came from create_all(), and the first revision alters one.
ADOPTED = {
    "0001_email": revision(
        "0001",
        None,
        'op.add_column("customer", sa.Column("email", sa.String(120)))',
        'op.drop_column("customer", "email")',
        message="customer email",
    ),
    "0002_orders": revision(
        "0002",
        "0001",
        """
        op.create_table(
            "orders",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id"), nullable=False),
            sa.Column("total", sa.Numeric(10, 2), nullable=False),
        )
        op.create_index("ix_orders_total", "orders", ["total"])
        """,
        """
        op.drop_index("ix_orders_total", table_name="orders")
        op.drop_table("orders")
        """,
        message="orders",
    ),
}
ADOPTED_MODELS = """
customer = sa.Table(
    "customer", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("email", sa.String(120)),
)
orders = sa.Table(
    "orders", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id"), nullable=False),
    sa.Column("total", sa.Numeric(10, 2), nullable=False, index=True),
)
"""


def test_a_history_started_from_create_all_is_checked_end_to_end(project, run_checks, engine):
    project(ADOPTED, ADOPTED_MODELS, pytest_ini="migrations_start = create_all\n")
    result = run_checks(engines=engine)
    assert item_outcomes(result) == expected_outcomes(engine)


def test_from_create_all_a_downgrade_that_leaves_an_index_behind_is_caught(project, run_checks, engine):
    forgetful = ADOPTED["0002_orders"].replace(
        "    op.create_table(\n",
        '    op.create_index("ix_customer_name", "customer", ["name"])\n    op.create_table(\n',
        1,
    )
    assert "ix_customer_name" in forgetful  # the downgrade does not drop it
    project(
        {**ADOPTED, "0002_orders": forgetful},
        ADOPTED_MODELS.replace(
            'sa.Column("name", sa.String(80), nullable=False)',
            'sa.Column("name", sa.String(80), nullable=False, index=True)',
        ),
        pytest_ini="migrations_start = create_all\n",
    )
    result = run_checks(engines=engine)
    assert item_outcomes(result) == expected_outcomes(
        engine,
        test_stepwise_roundtrip="failed",
        test_upgrade="skipped",  # one cause, one failure: they point at test_stepwise_roundtrip
        test_roundtrip="skipped",
        test_model_matches_migrations="skipped",
    )
    stepwise = failure_lines(result, f"test_stepwise_roundtrip[{engine}]")
    assert stepwise[1] == (
        'upgrade to 0002 ("orders", migrations/versions/0002_orders.py), run again after its downgrade, '
        f"failed on {engine}."
    )
    assert stepwise[-2].startswith("while running: CREATE INDEX ix_customer_name")
    assert skip_reason(result, f"test_upgrade[{engine}]") == (
        f"the upgrade to 0002 fails on top of its own downgrade (see test_stepwise_roundtrip[{engine}]); "
        "the walk back up to head stops there."
    )


def test_without_create_all_such_a_history_cannot_start(project, run_checks):
    project(ADOPTED, ADOPTED_MODELS)
    result = run_checks()
    lines = failure_lines(result, "test_upgrade[sqlite]")
    assert lines[1].startswith('upgrade to 0001 ("customer email"')
    assert lines[-1] == "sqlite3.OperationalError: no such table: customer"
