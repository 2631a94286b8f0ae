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


def test_validate_constraint_and_a_plain_backfill_are_not_blocking(project, run_checks, pytester):
    """VALIDATE CONSTRAINT scans under SHARE UPDATE EXCLUSIVE, a plain UPDATE under ROW EXCLUSIVE: neither blocks."""
    not_valid = revision(
        "0002",
        "0001",
        'op.execute("UPDATE orders SET customer_id = NULL")\n'
        'op.create_foreign_key("fk_orders_customer", "orders", "customer", ["customer_id"], ["id"], '
        "postgresql_not_valid=True)",
        'op.drop_constraint("fk_orders_customer", "orders")',
    )
    validate = revision("0003", "0002", 'op.execute("ALTER TABLE orders VALIDATE CONSTRAINT fk_orders_customer")', "")
    backfill = revision("0004", "0003", "op.execute(\"UPDATE orders SET note = 'backfilled'\")", "")
    project(
        {**BASE, "0002_fk": not_valid, "0003_validate": validate, "0004_backfill": backfill},
        pytest_ini="migrations_forbid = blocking-scan work-under-lock access-exclusive-on-rows\n",
    )
    result = run_checks("--migrations-report=report.json", engines="postgresql")
    assert item_outcomes(result)["test_locks[postgresql]"] == "passed", item_failure(result, "test_locks[postgresql]")
    report = _report(pytester)
    steps = {(s["revision"], s["direction"]): s for s in report["engines"]["postgresql"]["steps"]}
    validated = steps["0003", "upgrade"]["statements"][0]
    assert validated["rows_read"].get("orders", 0) > 0, validated  # it did read the rows...
    assert {"table": "orders", "mode": "ShareUpdateExclusiveLock"} in validated[
        "locks"
    ]  # ...under a lock nobody waits on
    assert steps["0003", "upgrade"]["blocking_locks"] == []
    filled = steps["0004", "upgrade"]["statements"][0]
    assert filled["rows_written"]["orders"] > 0 and filled["locks"] == [{"table": "orders", "mode": "RowExclusiveLock"}]
    # At head, what is left: the foreign key's referencing column has no index.
    assert [f["id"] for f in steps["0004", "upgrade"]["findings"]] == ["fk-without-index"]


MYSQL_BASE = {
    "0001_base": revision(
        "0001",
        None,
        'op.create_table("orders", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("qty", sa.Integer()))',
        'op.drop_table("orders")',
    )
}


def test_mariadb_tells_a_copying_alter_from_an_instant_one(project, run_checks, pytester):
    instant = revision(
        "0002", "0001", 'op.add_column("orders", sa.Column("note", sa.String(20)))', 'op.drop_column("orders", "note")'
    )
    copying = revision(
        "0003",
        "0002",
        'op.alter_column("orders", "qty", type_=sa.BigInteger(), existing_type=sa.Integer())',
        'op.alter_column("orders", "qty", type_=sa.Integer(), existing_type=sa.BigInteger())',
    )
    project(
        {**MYSQL_BASE, "0002_instant": instant, "0003_copy": copying}, pytest_ini="migrations_forbid = copy-rebuild\n"
    )
    result = run_checks("--migrations-report=report.json", engines="mysql")
    text = item_failure(result, "test_locks[mysql]")
    assert "[copy-rebuild] upgrade 0003 on orders: copied every row of orders" in text
    assert "upgrade 0002" not in text
    steps = {(s["revision"], s["direction"]): s for s in _report(pytester)["engines"]["mysql"]["steps"]}
    assert steps["0003", "upgrade"]["statements"][0]["rebuilds"] == [{"table": "orders", "how": "copy"}]
    assert steps["0002", "upgrade"]["statements"][0]["rebuilds"] == []  # instant: the table was not rebuilt
    assert steps["0002", "upgrade"]["findings"] == []
    assert "MariaDB" in steps["0003", "upgrade"]["server_version"]


def test_sqlite_reports_a_batch_rebuild(project, run_checks, pytester):
    batch = revision(
        "0002",
        "0001",
        'with op.batch_alter_table("orders") as batch:\n    batch.alter_column("qty", new_column_name="quantity")',
        'with op.batch_alter_table("orders") as batch:\n    batch.alter_column("quantity", new_column_name="qty")',
    )
    project({**MYSQL_BASE, "0002_batch": batch}, pytest_ini="migrations_forbid = batch-rebuild\n")
    result = run_checks("--migrations-report=report.json")
    assert "[batch-rebuild] upgrade 0002 on orders: recreated orders" in item_failure(result, "test_locks[sqlite]")
    steps = {(s["revision"], s["direction"]): s for s in _report(pytester)["engines"]["sqlite"]["steps"]}
    assert {"table": "orders", "how": "batch"} in [
        r for s in steps["0002", "upgrade"]["statements"] for r in s["rebuilds"]
    ]


@pytest.mark.parametrize("where", ["comment", "docstring", "ini"])
def test_a_finding_is_accepted_where_the_revision_or_the_ini_says_so(project, run_checks, where):
    upgrade = 'op.alter_column("orders", "qty", type_=sa.BigInteger())'
    if where == "comment":
        upgrade = "# pytest-migrations: allow[rewrite]: a small table, and a quiet hour\n" + upgrade
    second = revision("0002", "0001", upgrade, 'op.alter_column("orders", "qty", type_=sa.Integer())')
    if where == "docstring":
        second = second.replace('"""revision 0002', '"""revision 0002\n\npytest-migrations: allow[rewrite]', 1)
    ini = "migrations_forbid = rewrite\n" + ("migrations_allow = 0002:rewrite\n" if where == "ini" else "")
    project({**BASE, "0002_change": second}, pytest_ini=ini)
    result = run_checks("-rP", engines="postgresql")
    assert item_outcomes(result)["test_locks[postgresql]"] == "passed", item_failure(result, "test_locks[postgresql]")
    assert "[rewrite] upgrade 0002 on orders" in result.stdout.str()  # told as a note, with why it is accepted


def test_an_unknown_finding_id_is_a_usage_error(project, run_checks):
    project(BASE, pytest_ini="migrations_forbid = rewrites\n")
    result = run_checks()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "migrations_forbid names rewrites, which is not a finding id; the ids are rewrite blocking-scan" in (
        result.stderr.str()
    )


def test_the_report_validates_against_its_schema_and_the_markdown_and_annotations_name_the_finding(
    project, run_checks, pytester, monkeypatch
):
    jsonschema = pytest.importorskip("jsonschema")
    from pytest_migrations.report_files import SCHEMA_FILE

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    finding, bad, _safe, downgrade = PATTERNS["create-index"]
    _project(project, bad, downgrade, finding)
    result = run_checks(
        "--migrations-report=out/report.json", "--migrations-report-md=out/report.md", engines="sqlite,postgresql"
    )
    document = json.loads((pytester.path / "out" / "report.json").read_text())
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    assert set(document["engines"]) == {"sqlite", "postgresql"}
    assert document["engines"]["postgresql"]["checks"]["test_locks"] == "failed"
    markdown = (pytester.path / "out" / "report.md").read_text()
    assert "| `blocking-scan` | postgresql 15" in markdown or "| `blocking-scan` | postgresql " in markdown
    assert "CREATE INDEX ix_orders_note ON orders (note)" in markdown
    annotation = [
        line for line in result.stdout.lines if line.startswith("::warning ") and "title=blocking-scan" in line
    ]
    assert annotation and "0002_change.py,line=" in annotation[0], result.stdout.lines
    assert "::error title=test_locks[postgresql]::" in result.stdout.str()
    # The summary names the revision that locks a table holding rows, the lock and for how long.
    result.stdout.fnmatch_lines(
        [
            "  blocking locks on tables holding rows: * (longest first)",
            "    upgrade 0002: ShareLock on orders for * ms, taken by CREATE INDEX ix_orders_note ON orders (note) (*0002_change.py:*)",
        ]
    )


def test_production_row_counts_scale_a_findings_time(project, run_checks, pytester):
    """migrations_table_rows: a rewrite of 3 seeded rows, told at the table's 5,000,000 production rows."""
    finding, bad, _safe, downgrade = PATTERNS["type-change"]
    _project(project, bad, downgrade, finding, extra_ini="migrations_table_rows = orders:5_000_000\n")
    result = run_checks("--migrations-report=report.json", engines="postgresql")
    assert "at its 5,000,000 production rows" in item_failure(result, "test_locks[postgresql]")
    (rewrite,) = [f for f in _findings(_report(pytester), "postgresql") if f["id"] == "rewrite"]
    statement = next(
        s
        for step in _report(pytester)["engines"]["postgresql"]["steps"]
        if step["revision"] == "0002" and step["direction"] == "upgrade"
        for s in step["statements"]
        if s["sql"] == rewrite["statement"]
    )
    rows_here = max(statement["rows_read"].get("orders", 0), statement["rows_written"].get("orders", 0))
    assert rewrite["production_rows"] == 5_000_000
    assert rewrite["estimated_seconds"] == pytest.approx(statement["seconds"] * 5_000_000 / rows_here, rel=2e-2)


def test_a_volume_walk_times_each_upgrade_on_filled_tables(project, run_checks, pytester):
    """--migrations-volume: a walk of its own fills every table to N rows before each upgrade and observes it;
    the checks' walk keeps its few rows."""
    finding, bad, _safe, downgrade = PATTERNS["type-change"]
    _project(project, bad, downgrade, finding)
    result = run_checks("--migrations-volume=2000", "--migrations-report=report.json", engines="postgresql")
    result.stdout.fnmatch_lines(["  at 2000 rows per table, slowest upgrades: *0002 *ms*"])
    steps = [s for s in _report(pytester)["engines"]["postgresql"]["steps"] if s["volume"] == 2000]
    assert [(s["revision"], s["direction"]) for s in steps] == [("0001", "upgrade"), ("0002", "upgrade")]
    (rewritten,) = [s for s in steps[1]["statements"] if s["rewrites"] == ["orders"]]
    touched = max(rewritten["rows_read"].get("orders", 0), rewritten["rows_written"].get("orders", 0))
    assert touched >= 2000  # the rewrite went through every one of the rows
    checks_walk = [s for s in _report(pytester)["engines"]["postgresql"]["steps"] if s["volume"] is None]
    (small,) = [s for s in checks_walk if (s["revision"], s["direction"]) == ("0002", "upgrade")]
    assert max(st["rows_read"].get("orders", 0) for st in small["statements"]) < 100
    # Told once in test_locks, though both walks saw it.
    assert item_failure(result, "test_locks[postgresql]").count("[rewrite] upgrade 0002 on orders") == 1
