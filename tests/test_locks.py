"""Production rehearsal: what each revision does to a busy database, observed during the walk (issue 25).

Each PostgreSQL pattern is a revision on a table the walk has filled with rows: the pattern is reported
and fails test_locks when its finding is forbidden, and its safe variant passes. The expected findings
are PostgreSQL's own facts (pg_locks, relfilenode, pg_stat_xact_*), read by the observer as the
revision runs; nothing here guesses from SQL text.
"""

from __future__ import annotations

import json

import pytest

from conftest import item_failure, item_outcomes, revision

BASE = {
    "0001_base": revision(
        "0001",
        None,
        """
        op.create_table("customer", sa.Column("id", sa.Integer(), primary_key=True))
        op.create_table(
            "orders",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("note", sa.String(20)),
            sa.Column("qty", sa.Integer()),
            sa.Column("customer_id", sa.Integer()),
        )
        sa.Enum("new", "paid", name="mood").create(op.get_bind())
        """,
        """
        op.drop_table("orders")
        op.drop_table("customer")
        sa.Enum(name="mood").drop(op.get_bind())
        """,
    )
}
AUTOCOMMIT = "with op.get_context().autocommit_block():"

# id -> (the pattern's upgrade, its safe variant, its downgrade for both)
PATTERNS = {
    "volatile-default": (
        "rewrite",
        'op.add_column("orders", sa.Column("created", sa.DateTime(), server_default=sa.text("clock_timestamp()")))',
        'op.add_column("orders", sa.Column("created", sa.DateTime(), nullable=True))',
        'op.drop_column("orders", "created")',
    ),
    "create-index": (
        "blocking-scan",
        'op.create_index("ix_orders_note", "orders", ["note"])',
        f'{AUTOCOMMIT}\n    op.create_index("ix_orders_note", "orders", ["note"], postgresql_concurrently=True)',
        'op.drop_index("ix_orders_note", "orders")',
    ),
    "set-not-null": (
        "blocking-scan",
        'op.execute("UPDATE orders SET qty = 0 WHERE qty IS NULL")\nop.alter_column("orders", "qty", nullable=False)',
        'op.execute("UPDATE orders SET qty = 0 WHERE qty IS NULL")\n'
        'op.execute("ALTER TABLE orders ADD CONSTRAINT qty_nn CHECK (qty IS NOT NULL) NOT VALID")\n'
        f'{AUTOCOMMIT}\n    op.execute("ALTER TABLE orders VALIDATE CONSTRAINT qty_nn")\n'
        'op.alter_column("orders", "qty", nullable=False)\n'
        'op.drop_constraint("qty_nn", "orders")',
        'op.alter_column("orders", "qty", nullable=True)',
    ),
    "type-change": (
        "rewrite",
        'op.alter_column("orders", "qty", type_=sa.BigInteger())',
        'op.alter_column("orders", "note", type_=sa.String(40))',
        'op.alter_column("orders", "qty", type_=sa.Integer())\nop.alter_column("orders", "note", type_=sa.String(20))',
    ),
    "foreign-key": (
        "blocking-scan",
        'op.execute("UPDATE orders SET customer_id = NULL")\n'
        'op.create_foreign_key("fk_orders_customer", "orders", "customer", ["customer_id"], ["id"])',
        'op.execute("UPDATE orders SET customer_id = NULL")\n'
        'op.create_foreign_key("fk_orders_customer", "orders", "customer", ["customer_id"], ["id"], '
        "postgresql_not_valid=True)\n"
        f'{AUTOCOMMIT}\n    op.execute("ALTER TABLE orders VALIDATE CONSTRAINT fk_orders_customer")',
        'op.drop_constraint("fk_orders_customer", "orders")',
    ),
    "backfill-under-lock": (
        "work-under-lock",
        'op.add_column("orders", sa.Column("status", sa.String(10)))\nop.execute("UPDATE orders SET status = \'new\'")',
        'op.add_column("orders", sa.Column("status", sa.String(10)))\n'
        f"{AUTOCOMMIT}\n    op.execute(\"UPDATE orders SET status = 'new'\")",
        'op.drop_column("orders", "status")',
    ),
    "no-lock-timeout": (
        "no-lock-timeout",
        'op.add_column("orders", sa.Column("flag", sa.Boolean()))',
        'op.execute("SET lock_timeout = \'5s\'")\nop.add_column("orders", sa.Column("flag", sa.Boolean()))',
        'op.drop_column("orders", "flag")',
    ),
    "failed-concurrent-unique": (
        "invalid-index",
        f"{AUTOCOMMIT}\n    op.execute(\"UPDATE orders SET note = 'same'\")\n"
        '    op.create_index("ux_orders_note", "orders", ["note"], unique=True, postgresql_concurrently=True)',
        f'{AUTOCOMMIT}\n    op.execute("UPDATE orders SET note = id::text")\n'
        '    op.create_index("ux_orders_note", "orders", ["note"], unique=True, postgresql_concurrently=True)',
        'op.execute("DROP INDEX IF EXISTS ux_orders_note")',
    ),
    "enum-add-value": (
        "enum-add-value-in-transaction",
        "op.execute(\"ALTER TYPE mood ADD VALUE 'sad'\")",
        f"{AUTOCOMMIT}\n    op.execute(\"ALTER TYPE mood ADD VALUE 'sad'\")",
        "pass",
    ),
}


def _project(project, upgrade: str, downgrade: str, forbid: str, extra_ini: str = "") -> None:
    second = revision("0002", "0001", upgrade, downgrade)
    project({**BASE, "0002_change": second}, pytest_ini=f"migrations_forbid = {forbid}\n{extra_ini}")


def _report(pytester) -> dict:
    return json.loads((pytester.path / "report.json").read_text())


def _findings(report: dict, engine: str, revision: str = "0002") -> list[dict]:
    return [
        finding
        for step in report["engines"][engine]["steps"]
        if step["revision"] == revision and step["direction"] == "upgrade"
        for finding in step["findings"]
    ]


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_each_postgresql_pattern_is_reported_and_its_safe_variant_passes(project, run_checks, pytester, pattern):
    finding, bad, safe, downgrade = PATTERNS[pattern]
    _project(project, bad, downgrade, finding)
    result = run_checks("--migrations-report=report.json", engines="postgresql")
    assert item_outcomes(result)["test_locks[postgresql]"] == "failed", result.stdout.str()
    text = item_failure(result, "test_locks[postgresql]")
    assert f"[{finding}] upgrade 0002" in text, text
    assert "0002_change.py:" in text  # the revision file and the statement's line
    assert "Safer: " in text
    assert finding in [f["id"] for f in _findings(_report(pytester), "postgresql")]

    _project(project, safe, downgrade, finding)
    result = run_checks("--migrations-report=report.json", engines="postgresql")
    assert item_outcomes(result)["test_locks[postgresql]"] == "passed", item_failure(result, "test_locks[postgresql]")
    assert finding not in [f["id"] for f in _findings(_report(pytester), "postgresql")]
