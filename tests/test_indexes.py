"""Indexes compared whole: expressions, WHERE clauses, methods, INCLUDE columns and key order, on every engine
that has them. Each case is a downgrade that forgets to undo what its upgrade changed in an index."""

from __future__ import annotations

import pytest

from conftest import expected_outcomes, failure_lines, item_outcomes, revision

TABLE = revision(
    "0001",
    None,
    """
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_account_name", "account", ["name"], unique=True)
    """,
    'op.drop_table("account")',
    message="account",
)


def changed(upgrade: str) -> dict[str, str]:
    """The index replaced by another of the same name; the downgrade is a no-op."""
    return {
        "0001_account": TABLE,
        "0002_index": revision(
            "0002",
            "0001",
            'op.drop_index("ix_account_name", table_name="account")\n' + upgrade,
            "pass  # forgot to put the old index back",
            message="index",
        ),
    }


# Each: (the upgrade's new index, the engines that have that kind of index, the line the failure shows).
CASES = {
    "partial": (
        'op.create_index("ix_account_name", "account", ["name"], unique=True, '
        'postgresql_where=sa.text("deleted_at IS NULL"), sqlite_where=sa.text("deleted_at IS NULL"))',
        {
            "sqlite": "unique index ix_account_name on (name) WHERE deleted_at IS NULL",
            "postgresql": "unique index ix_account_name on (name) WHERE (deleted_at IS NULL)",
        },
    ),
    "expression": (
        'op.create_index("ix_account_name", "account", [sa.text("lower(name)"), "state"], unique=True)',
        {
            "sqlite": "unique index ix_account_name on (lower(name), state)",
            "postgresql": "unique index ix_account_name on (lower((name)::text), state)",
        },
    ),
    "method": (
        'op.create_index("ix_account_name", "account", ["name"], postgresql_using="hash")',
        {"postgresql": "index ix_account_name on (name) USING hash"},
    ),
    "include": (
        'op.create_index("ix_account_name", "account", ["name"], unique=True, postgresql_include=["state"])',
        {"postgresql": "unique index ix_account_name on (name) INCLUDE (state)"},
    ),
    "order": (
        'op.create_index("ix_account_name", "account", [sa.text("name DESC")], unique=True)',
        {
            "sqlite": "unique index ix_account_name on (name DESC)",
            "postgresql": "unique index ix_account_name on (name DESC)",
            "mysql": "unique constraint (name DESC)",
        },
    ),
    "prefix": (
        'op.create_index("ix_account_name", "account", ["name"], unique=True, mysql_length={"name": 8})',
        {"mysql": "unique constraint (name(8))"},
    ),
}


@pytest.mark.parametrize(("case", "engine"), [(case, engine) for case, (_, shown) in CASES.items() for engine in shown])
def test_a_downgrade_that_leaves_an_index_changed_fails(case, engine, project, run_checks):
    upgrade, shown = CASES[case]
    project(changed(upgrade))
    result = run_checks(engines=engine)
    expected = expected_outcomes(engine, test_stepwise_roundtrip="failed", test_model_matches_migrations="skipped")
    assert item_outcomes(result) == expected, result.stdout.str()
    lines = failure_lines(result, f"test_stepwise_roundtrip[{engine}]")
    assert f"  account: {shown[engine]} present after downgrade of 0002, absent before" in lines, lines
