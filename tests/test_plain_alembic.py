"""Differential tests: the plugin's verdicts must be those of plain Alembic, one command at a time.

Each history is written as users write them; the expected verdicts come from running Alembic's own
commands on the same project (tests/oracle.py), never from reading the history by hand.
"""

from __future__ import annotations

import pytest

from conftest import item_failure, item_outcomes, needs, revision
from oracle import Alembic, fresh_database, plain_alembic_facts

CHECKED = ("test_upgrade", "test_stepwise_roundtrip", "test_downgrade", "test_roundtrip")

ITEM = """
    op.create_table(
        "item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(40), nullable=True),
    )
"""

# "Create the table only if it is missing", looking through a connection of its own.
OWN_CONNECTION = {
    "0001_item": revision("0001", None, ITEM, 'op.drop_table("item")', message="item"),
    "0002_tag": revision(
        "0002",
        "0001",
        """
        inspector = sa.inspect(op.get_bind().engine)
        if not inspector.has_table("tag"):
            op.create_table("tag", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("label", sa.String(20)))
        """,
        'op.drop_table("tag")',
        message="tag if missing",
    ),
    "0003_tag_index": revision(
        "0003", "0002", 'op.create_index("ix_tag_label", "tag", ["label"])', 'op.drop_index("ix_tag_label", "tag")'
    ),
}

# A data migration through an ORM Session on op.get_bind(), which never commits.
ORM_SESSION = {
    "0001_item": revision("0001", None, ITEM, 'op.drop_table("item")', message="item"),
    "0002_slug": revision(
        "0002",
        "0001",
        """
        from sqlalchemy import orm

        op.add_column("item", sa.Column("slug", sa.String(40), nullable=True))
        with orm.Session(bind=op.get_bind()) as session:
            session.execute(sa.text("UPDATE item SET slug = 'x' || id"))
        with op.batch_alter_table("item") as batch_op:
            batch_op.alter_column("slug", existing_type=sa.String(40), nullable=False)
        """,
        """
        with op.batch_alter_table("item") as batch_op:
            batch_op.drop_column("slug")
        """,
        message="slug from a session",
    ),
}

# A downgrade that drops one column too many; a later revision uses that column.
DROPS_TOO_MUCH = {
    "0001_item": revision("0001", None, ITEM, 'op.drop_table("item")', message="item"),
    "0002_price": revision(
        "0002",
        "0001",
        'op.add_column("item", sa.Column("price", sa.Integer(), nullable=True))',
        """
        with op.batch_alter_table("item") as batch_op:
            batch_op.drop_column("price")
            batch_op.drop_column("name")
        """,
        message="price",
    ),
    "0003_name_index": revision(
        "0003", "0002", 'op.create_index("ix_item_name", "item", ["name"])', 'op.drop_index("ix_item_name", "item")'
    ),
}

# CREATE INDEX CONCURRENTLY, which PostgreSQL runs only outside a transaction: autocommit_block().
AUTOCOMMIT_BLOCK = {
    "0001_item": revision("0001", None, ITEM, 'op.drop_table("item")', message="item"),
    "0002_index": revision(
        "0002",
        "0001",
        """
        concurrently = "CONCURRENTLY " if op.get_bind().dialect.name == "postgresql" else ""
        with op.get_context().autocommit_block():
            op.execute(f"CREATE INDEX {concurrently}ix_item_name ON item (name)")
        """,
        """
        concurrently = "CONCURRENTLY " if op.get_bind().dialect.name == "postgresql" else ""
        with op.get_context().autocommit_block():
            op.drop_index("ix_item_name", table_name="item", postgresql_concurrently=bool(concurrently))
        """,
        message="index concurrently",
    ),
}

HISTORIES = {
    "own_connection": OWN_CONNECTION,
    "orm_session": ORM_SESSION,
    "drops_too_much": DROPS_TOO_MUCH,
    "autocommit_block": AUTOCOMMIT_BLOCK,
}


@pytest.mark.parametrize("history", HISTORIES)
def test_the_plugin_gives_plain_alembics_verdicts(history, project, run_checks, engine, tmp_path):
    root = project(HISTORIES[history])
    expected = plain_alembic_facts(root, engine, tmp_path).verdicts()
    result = run_checks(engines=engine)
    got = item_outcomes(result)
    assert {check: got[f"{check}[{engine}]"] for check in CHECKED} == expected, result.stdout.str()
    # None of the walk's own machinery shows: no savepoint warning of SQLAlchemy's in the user's summary.
    assert "deassociated" not in result.stdout.str()


FORGETS_A_COLUMN = {
    "0001_item": revision("0001", None, ITEM, 'op.drop_table("item")', message="item"),
    "0002_price": revision(
        "0002", "0001", 'op.add_column("item", sa.Column("price", sa.Integer(), nullable=True))', "pass"
    ),
    "0003_stock": revision(
        "0003",
        "0002",
        'op.add_column("item", sa.Column("stock", sa.Integer(), nullable=True))',
        'raise NotImplementedError("no way back")',
    ),
}


@pytest.mark.parametrize(
    ("check", "revision_id"), [("test_stepwise_roundtrip", "0002"), ("test_stepwise_roundtrip", "0003")]
)
def test_the_commands_a_failure_names_reproduce_it_with_plain_alembic(
    check, revision_id, project, run_checks, engine, tmp_path
):
    root = project(FORGETS_A_COLUMN)
    result = run_checks(engines=engine)
    message = item_failure(result, f"{check}[{engine}]")
    paragraph = next(
        p
        for p in message.split("\n\n")
        if (f" of {revision_id} " in p or f" to {revision_id} " in p) and "To see it by hand: " in p
    )
    line = next(line for line in paragraph.splitlines() if line.startswith("To see it by hand: "))
    commands = [command.split() for command in line.removeprefix("To see it by hand: ").split(" && ")]
    with fresh_database(engine, tmp_path) as url:
        alembic = Alembic(root, url)
        outcomes = [alembic.run(verb, target) for _tool, verb, target in commands]
    # Every command but the last succeeds; the last fails, as the walk's move did.
    assert outcomes == [True] * (len(commands) - 1) + [False], (line, outcomes)


# A downgrade that deletes the row a later table's seeded rows point at: it fails only with those rows.
DELETES_A_PARENT_ROW = {
    "0001_payments": revision(
        "0001",
        None,
        """
        op.create_table("payments", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("status", sa.String(20)))
        op.execute("INSERT INTO payments (id, status) VALUES (1, 'inserted')")
        """,
        'op.drop_table("payments")',
    ),
    "0002_employees": revision(
        "0002",
        "0001",
        """
        op.create_table(
            "employees",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("payments_id", sa.Integer(), sa.ForeignKey("payments.id")),
        )
        """,
        'op.drop_table("employees")',
    ),
    "0003_cleanup": revision(
        "0003", "0002", "pass", """op.execute("DELETE FROM payments WHERE status = 'inserted'")"""
    ),
}


def test_a_failure_plain_alembic_gives_only_with_rows_is_the_data_checks_on_mysql_too(project, run_checks):
    """On MySQL the walk cannot try this downgrade on empty tables (its DDL commits as it runs): replay runs the
    same commands, with rows put in as a user would, and the failure is the data check's, as on PostgreSQL."""
    project(DELETES_A_PARENT_ROW)
    result = run_checks(engines="mysql,postgresql")
    outcomes = item_outcomes(result)
    for engine in ("mysql", "postgresql"):
        assert outcomes[f"test_stepwise_roundtrip[{engine}]"] == "passed"
        text = item_failure(result, f"test_data_preserved[{engine}]")
        assert (
            f'downgrade of 0003 ("revision 0003", migrations/versions/0003_cleanup.py) fails only with rows present on {engine}: on empty tables it passes.'
            in text
        )
    assert "ReplayMismatch" not in result.stdout.str()


# A downgrade that fails the first two times this process runs it, and never again: the walk meets the failure,
# plain Alembic (replay, after the walk) does not.
FAILS_ONCE = {
    "0001_t": revision(
        "0001", None, 'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("t")'
    ),
    "0002_once": revision(
        "0002",
        "0001",
        "pass",
        """
        import builtins
        calls = getattr(builtins, "_pytest_migrations_test_calls", 0)
        builtins._pytest_migrations_test_calls = calls + 1
        if calls < 2:  # the walk's attempt, and its attempt on empty tables
            raise RuntimeError("only the first times")
        """,
    ),
}


def test_a_failure_plain_alembic_does_not_give_is_the_plugins_warning_not_the_users_failure(project, run_checks):
    project(FAILS_ONCE)
    result = run_checks(engines="sqlite")
    outcomes = item_outcomes(result)
    assert outcomes["test_stepwise_roundtrip[sqlite]"] == "passed"
    assert outcomes["test_data_preserved[sqlite]"] == "passed"
    out = result.stdout.str()
    assert "ReplayMismatch: pytest-migrations met a failure on sqlite that plain Alembic does not give" in out
    assert "(alembic upgrade 0002 && alembic downgrade -1)" in out


# ------------------------------------------------------------------ the model check against `alembic check`

# Each: (the table as the migration creates it, as the model declares it, context.configure's extra options).
MODEL_CASES = {
    "server_default": ('sa.Column("name", sa.String(50))', 'sa.Column("name", sa.String(50), server_default="x")', ""),
    "server_default_compared": (
        'sa.Column("name", sa.String(50))',
        'sa.Column("name", sa.String(50), server_default="x")',
        "compare_server_default=True",
    ),
    "varchar_length": ('sa.Column("name", sa.String())', 'sa.Column("name", sa.String(50))', ""),
    "length_changed": ('sa.Column("name", sa.String(40))', 'sa.Column("name", sa.String(50))', ""),
    "check_only_in_model": (
        'sa.Column("n", sa.Integer())',
        'sa.Column("n", sa.Integer()), sa.CheckConstraint("n > 0", name="ck_n")',
        "",
    ),
    "nullable": ('sa.Column("n", sa.Integer(), nullable=True)', 'sa.Column("n", sa.Integer(), nullable=False)', ""),
    "index_only_in_model": ('sa.Column("n", sa.Integer())', 'sa.Column("n", sa.Integer(), index=True)', ""),
    "key_order": (
        'sa.Column("b", sa.Integer()), sa.PrimaryKeyConstraint("a", "b")',
        'sa.Column("b", sa.Integer()), sa.PrimaryKeyConstraint("b", "a")',
        "",
    ),
}


@pytest.mark.parametrize("case", MODEL_CASES)
@needs("alembic", "1.9", "the oracle's `alembic check`")
def test_the_model_check_fails_where_alembic_check_does(case, project, run_checks, engine, tmp_path):
    if engine == "mysql" and case == "varchar_length":
        pytest.skip("MySQL has no VARCHAR without a length")
    migrated, modelled, configure = MODEL_CASES[case]
    root = project(
        {
            "0001_t": revision(
                "0001",
                None,
                f'op.create_table("t", sa.Column("a", sa.Integer(), nullable=False), {migrated})',
                'op.drop_table("t")',
            )
        },
        f'\nt = sa.Table("t", metadata, sa.Column("a", sa.Integer(), nullable=False), {modelled})\n'.replace(
            'sa.Column("a", sa.Integer(), nullable=False), sa.Column("n"',
            'sa.Column("a", sa.Integer(), primary_key=True), sa.Column("n"',
        ),
        configure=configure,
    )
    if "PrimaryKeyConstraint" not in migrated:  # every table has a key: the one case about keys gives its own
        for path in (root / "models.py", *(root / "migrations" / "versions").glob("*.py")):
            text = path.read_text().replace(
                'sa.Column("a", sa.Integer(), nullable=False)', 'sa.Column("a", sa.Integer(), primary_key=True)'
            )
            path.write_text(text)
    with fresh_database(engine, tmp_path) as url:
        alembic = Alembic(root, url)
        assert alembic.run("upgrade", "head")
        expected = "passed" if alembic.run("check") else "failed"
    result = run_checks(engines=engine)
    assert item_outcomes(result)[f"test_model_matches_migrations[{engine}]"] == expected, result.stdout.str()
    if expected == "passed" and case != "server_default_compared":  # the difference is told, as a note
        result.stdout.fnmatch_lines(["  note (test_model_matches_migrations): differences from the model*"])
