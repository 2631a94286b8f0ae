"""Engine-specific defects are caught on the engine where they exist, and nowhere else.

Every project here runs once on all three engines (the real servers of conftest.SERVER_URLS)
and the outcome of each built-in item is checked by name, e.g. test_upgrade[mysql]. The
provider tests check where servers come from: private local servers, Docker, a bad URL,
and the databases a killed run leaves behind.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from conftest import (
    ALL_ENGINES,
    ENGINES,
    SERVER_URLS,
    assert_checks,
    failed_checks,
    failure_lines,
    item_failure,
    item_outcomes,
    revision,
    skip_reason,
)
from pytest_migrations.checks import CHECKS
from pytest_migrations.providers import DB_PREFIX, HOST_TAG, with_driver

# ------------------------------------------------------------------- helpers


def own_leftovers() -> tuple[list[Path], list[str]]:
    """Temp dirs and processes of the local servers this process (the in-process pytester run) started."""
    prefix = f"pytest-migrations-{os.getpid()}-"
    dirs = sorted(
        path for engine in ("postgresql", "mysql") for path in Path(tempfile.gettempdir()).glob(f"{prefix}{engine}-*")
    )
    processes = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if prefix in cmdline:
            processes.append(f"{proc.name}: {cmdline}")
    return dirs, processes


# ------------------------------------------------------------ PostgreSQL only

ENUM_LEFT_BEHIND = {
    "0001_item": revision(
        "0001",
        None,
        """
        op.create_table(
            "item",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("status", sa.Enum("a", "b", name="status"), nullable=False),
        )
        """,
        'op.drop_table("item")',
    ),
}
ENUM_MODEL = """
item = sa.Table(
    "item", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("status", sa.Enum("a", "b", name="status"), nullable=False),
)
"""


def test_enum_type_left_behind_by_downgrade_fails_on_postgresql_only(project, run_checks):
    project(ENUM_LEFT_BEHIND, ENUM_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, "sqlite", "mysql")
    failed = failed_checks(result, "postgresql")
    assert "test_stepwise_roundtrip" in failed
    # Whether the type shows up as a schema difference or makes the re-upgrade fail, only
    # the checks that go down and up again may fail; the upgrade and the model are fine.
    assert failed <= {"test_stepwise_roundtrip", "test_downgrade", "test_roundtrip", "test_data_preserved"}, failed
    assert "status" in item_failure(result, "test_stepwise_roundtrip[postgresql]")


ENUM_DROPPED = {
    "0001_item": revision(
        "0001",
        None,
        """
        op.create_table(
            "item",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("status", sa.Enum("a", "b", name="status"), nullable=False),
        )
        """,
        """
        op.drop_table("item")
        sa.Enum(name="status").drop(op.get_bind(), checkfirst=True)
        """,
    ),
}


def test_enum_type_dropped_by_downgrade_passes_on_postgresql(project, run_checks):
    project(ENUM_DROPPED, ENUM_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES)


ENUM_VALUE_ADDED = {
    **ENUM_DROPPED,
    "0002_status_c": revision(
        "0002",
        "0001",
        """op.execute("ALTER TYPE status ADD VALUE 'c'")""",
        """
        op.execute("UPDATE item SET status = 'a' WHERE status = 'c'")
        op.execute("ALTER TYPE status RENAME TO status_old")
        op.execute("CREATE TYPE status AS ENUM ('a', 'b')")
        op.execute("ALTER TABLE item ALTER COLUMN status TYPE status USING status::text::status")
        op.execute("DROP TYPE status_old")
        """,
        message="add status c",
    ),
}
ENUM_ABC_MODEL = ENUM_MODEL.replace('sa.Enum("a", "b", name="status")', 'sa.Enum("a", "b", "c", name="status")')


def test_downgrade_may_use_the_enum_value_its_upgrade_added(project, run_checks):
    # `alembic upgrade` and `alembic downgrade` are separate commands, separate transactions: the
    # walk commits when it turns, so PostgreSQL's "new enum values must be committed" is no false alarm.
    project(ENUM_VALUE_ADDED, ENUM_ABC_MODEL)
    result = run_checks(engines="postgresql")
    assert_checks(result, "postgresql")


def test_revision_using_an_enum_value_added_in_the_same_upgrade_run_fails(project, run_checks):
    # One `alembic upgrade head` is one transaction: there, 0003 cannot use the value 0002 adds.
    project(
        {
            **ENUM_VALUE_ADDED,
            "0003_use_c": revision("0003", "0002", """op.execute("UPDATE item SET status = 'c' WHERE id = 1")""", ""),
        },
        ENUM_ABC_MODEL,
    )
    result = run_checks(engines="postgresql")
    assert "test_upgrade" in failed_checks(result, "postgresql")
    message = item_failure(result, "test_upgrade[postgresql]")
    assert 'upgrade to 0003 ("revision 0003", migrations/versions/0003_use_c.py) failed on postgresql' in message
    assert "add the value inside `with op.get_context().autocommit_block():`" in message
    assert message.splitlines()[-1].startswith("psycopg2.UnsafeNewEnumValueUsage: unsafe use of new value")


def test_rows_holding_an_enum_value_added_by_a_later_revision_are_read_back(project, run_checks):
    # The table's own DDL never changes, but its enum type does: reading 'c' needs the new type.
    added = ENUM_VALUE_ADDED["0002_status_c"].replace(
        """op.execute("ALTER TYPE status ADD VALUE 'c'")""",
        """with op.get_context().autocommit_block():
        op.execute("ALTER TYPE status ADD VALUE 'c'")""",
    )
    project(
        {
            **ENUM_VALUE_ADDED,
            "0002_status_c": added,
            "0003_use_c": revision(
                "0003",
                "0002",
                """op.execute("UPDATE item SET status = 'c' WHERE id < 0")""",
                "",
            ),
        },
        ENUM_ABC_MODEL,
    )
    result = run_checks(engines="postgresql")
    assert_checks(result, "postgresql")


def test_enum_hint_only_when_an_enum_type_was_left_behind(project, run_checks):
    project(ENUM_LEFT_BEHIND, ENUM_MODEL)
    result = run_checks(engines="postgresql")
    message = item_failure(result, "test_stepwise_roundtrip[postgresql]")
    assert "On PostgreSQL, drop_table does not drop the enum types its columns use" in message
    assert skip_reason(result, "test_roundtrip[postgresql]") == (
        "the upgrade to 0001 fails again after its downgrade (see test_stepwise_roundtrip[postgresql]); "
        "base -> head stops there."
    )


def test_schema_left_behind_gets_no_enum_hint(project, run_checks):
    project({"0001_audit": revision("0001", None, 'op.execute("CREATE SCHEMA audit")', "")})
    result = run_checks(engines="postgresql")
    message = item_failure(result, "test_stepwise_roundtrip[postgresql]")
    assert "The downgrade of 0001 left behind what its upgrade creates again (listed above)." in message
    assert "schema audit: present after downgrade of 0001, absent before" in message
    assert "enum type" not in message
    assert message.splitlines()[-1] == 'psycopg2.DuplicateSchema: schema "audit" already exists'


AUDIT_SCHEMA = {
    "0001_audit": revision(
        "0001",
        None,
        """
        op.execute("CREATE SCHEMA IF NOT EXISTS audit")
        op.create_table(
            "log",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("message", sa.String(100), nullable=False),
            schema="audit",
        )
        """,
        """
        op.drop_table("log", schema="audit")
        op.execute("DROP SCHEMA audit")
        """,
    ),
}
AUDIT_MODEL = """
log = sa.Table(
    "log", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("message", sa.String(100), nullable=False),
    schema="audit",
)
"""


def test_tables_in_another_postgresql_schema_are_checked_like_the_others(project, run_checks):
    project(AUDIT_SCHEMA, AUDIT_MODEL)
    result = run_checks(engines="postgresql")
    assert_checks(result, "postgresql")


def test_column_lost_in_another_postgresql_schema_is_caught(project, run_checks):
    project(
        {
            **AUDIT_SCHEMA,
            "0002_no_message": revision(
                "0002",
                "0001",
                'op.drop_column("log", "message", schema="audit")',
                'op.add_column("log", sa.Column("message", sa.String(100), nullable=True), schema="audit")',
            ),
        },
        AUDIT_MODEL.replace('    sa.Column("message", sa.String(100), nullable=False),\n', ""),
    )
    result = run_checks(engines="postgresql")
    assert failed_checks(result, "postgresql") == {"test_stepwise_roundtrip", "test_data_preserved"}
    assert "audit.log.message: nullable after downgrade of 0002, NOT NULL before" in item_failure(
        result, "test_stepwise_roundtrip[postgresql]"
    )
    assert "downgrade 0002 -> 0001 lost values of audit.log.message in 3 of 3 rows" in item_failure(
        result, "test_data_preserved[postgresql]"
    )


def test_version_table_in_its_own_schema_is_alembic_s_not_a_difference(project, run_checks, pytester):
    from conftest import _TEMPLATE

    env = (
        (_TEMPLATE / "env.py")
        .read_text()
        .replace("target_metadata = None", "from models import metadata as target_metadata")
        .replace(
            "    with connectable.connect() as connection:\n",
            "    with connectable.begin() as setup:  # a transaction of its own, on SQLAlchemy 1.4 and 2.x alike\n"
            '        setup.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS meta")\n'
            "    with connectable.connect() as connection:\n",
        )
        .replace("target_metadata=target_metadata\n", 'target_metadata=target_metadata, version_table_schema="meta"\n')
    )
    assert 'version_table_schema="meta"' in env
    project(ENUM_DROPPED, ENUM_MODEL, env_py=env)
    (pytester.path / "models.py").write_text("import sqlalchemy as sa\n\nmetadata = sa.MetaData()\n" + ENUM_MODEL)
    result = run_checks(engines="postgresql")
    assert_checks(result, "postgresql")


@pytest.mark.parametrize("rule", ["schema:audit", "audit"])
def test_ignore_rule_names_a_schema_like_a_table(project, run_checks, rule):
    project(
        {"0001_audit": AUDIT_SCHEMA["0001_audit"].replace('    op.execute("DROP SCHEMA audit")\n', "")},
        AUDIT_MODEL,
        pytest_ini=f"migrations_ignore =\n    {rule}\n",
    )
    result = run_checks(engines="postgresql")
    assert "test_downgrade" not in failed_checks(result, "postgresql")


def test_model_naming_another_mysql_database_is_not_built_there(project, run_checks):
    # On MySQL schema="..." is another database: create_all would write into the user's database.
    theirs = f"myapp_{secrets.token_hex(4)}"
    table = 'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))'
    project(
        {"0001_t": revision("0001", None, table, 'op.drop_table("t")')}, AUDIT_MODEL.replace('"audit"', f'"{theirs}"')
    )
    admin = sa.create_engine(with_driver(sa.engine.make_url(SERVER_URLS["mysql"]), "mysql"), poolclass=NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {theirs}")
    try:
        result = run_checks(engines="mysql")
        with admin.connect() as conn:
            tables = conn.exec_driver_sql(f"SHOW TABLES FROM {theirs}").scalars().all()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {theirs}")
        admin.dispose()
    assert tables == []
    assert failed_checks(result, "mysql") == {"test_model_matches_migrations"}
    assert f"the model's tables {theirs}.log name a schema, which on mysql is another database" in item_failure(
        result, "test_model_matches_migrations[mysql]"
    )


def test_schema_left_behind_by_the_downgrade_is_caught(project, run_checks):
    project(
        {"0001_audit": AUDIT_SCHEMA["0001_audit"].replace('    op.execute("DROP SCHEMA audit")\n', "")}, AUDIT_MODEL
    )
    result = run_checks(engines="postgresql")
    assert failed_checks(result, "postgresql") == {"test_stepwise_roundtrip", "test_downgrade"}
    assert "schema audit: present after downgrading to base, absent before the first upgrade" in item_failure(
        result, "test_downgrade[postgresql]"
    )


BOOLEAN_AS_INTEGER = {
    "0001_account": revision(
        "0001",
        None,
        """
        op.create_table(
            "account",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("name", sa.String(40), nullable=False),
        )
        """,
        'op.drop_table("account")',
    ),
    "0002_archived": revision(
        "0002",
        "0001",
        """
        op.add_column("account", sa.Column("archived", sa.Boolean(), nullable=True))
        op.execute("UPDATE account SET archived = 0")
        """,
        'op.drop_column("account", "archived")',
    ),
}
BOOLEAN_MODEL = """
account = sa.Table(
    "account", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("archived", sa.Boolean(), nullable=True),
)
"""


def test_integer_literal_for_boolean_fails_on_postgresql_only(project, run_checks):
    project(BOOLEAN_AS_INTEGER, BOOLEAN_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, "sqlite", "mysql")
    text = item_failure(result, "test_upgrade[postgresql]")
    assert "upgrade to 0002" in text
    assert "boolean" in text
    assert "test_single_head" not in failed_checks(result, "postgresql")


# ------------------------------------------------------------- MySQL only

UNSIZED_STRING = {
    "0001_note": revision(
        "0001",
        None,
        """
        op.create_table(
            "note",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("title", sa.String(), nullable=True),
        )
        """,
        'op.drop_table("note")',
    ),
}
UNSIZED_MODEL = """
note = sa.Table(
    "note", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("title", sa.String(), nullable=True),
)
"""


def test_string_without_length_fails_on_mysql_only(project, run_checks):
    project(UNSIZED_STRING, UNSIZED_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, "sqlite", "postgresql")
    text = item_failure(result, "test_upgrade[mysql]")
    assert "upgrade to 0001" in text
    assert "VARCHAR requires a length" in text
    assert "test_single_head" not in failed_checks(result, "mysql")


INDEX_DROPPED_BEFORE_TABLE = {
    "0001_author": revision(
        "0001",
        None,
        'op.create_table("author", sa.Column("id", sa.Integer(), primary_key=True))',
        'op.drop_table("author")',
    ),
    "0002_book": revision(
        "0002",
        "0001",
        """
        op.create_table(
            "book",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("author_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["author_id"], ["author.id"]),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_book_author_id"), "book", ["author_id"], unique=False)
        """,
        """
        op.drop_index(op.f("ix_book_author_id"), table_name="book")
        op.drop_table("book")
        """,
    ),
}
INDEX_MODEL = """
author = sa.Table("author", metadata, sa.Column("id", sa.Integer(), primary_key=True))
book = sa.Table(
    "book", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("author_id", sa.Integer(), sa.ForeignKey("author.id"), nullable=False, index=True),
)
"""


def test_dropping_index_a_foreign_key_needs_fails_on_mysql_only(project, run_checks):
    project(INDEX_DROPPED_BEFORE_TABLE, INDEX_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, "sqlite", "postgresql")
    # The refused DROP INDEX changed nothing, so the one walk goes on: the data check holds, the round
    # trip cannot reach base (not checked), and the failure is told once, by the check that met it first.
    assert failed_checks(result, "mysql") == {"test_stepwise_roundtrip"}  # the others point there, skipped
    text = item_failure(result, "test_stepwise_roundtrip[mysql]")
    assert 'downgrade of 0002 ("revision 0002", migrations/versions/0002_book.py) failed on mysql.' in text
    assert "while running: DROP INDEX ix_book_author_id ON book" in text
    assert text.splitlines()[-1].startswith("pymysql.OperationalError: (1553, ")
    assert skip_reason(result, "test_downgrade[mysql]") == (
        "the downgrade of 0002 fails (see test_stepwise_roundtrip[mysql]); head -> base stops there."
    )
    assert "mysql: 2 revisions walked" in result.stdout.str()
    assert "(1 walk)" in result.stdout.str().split("mysql: 2 revisions walked")[1].splitlines()[0]


BATCH_RECREATE_WITH_FK = {
    "0001_author": revision(
        "0001",
        None,
        """
        op.create_table("author", sa.Column("id", sa.Integer(), primary_key=True))
        op.create_table(
            "book",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("author_id", sa.Integer(), sa.ForeignKey("author.id"), nullable=False),
        )
        """,
        """
        op.drop_table("book")
        op.drop_table("author")
        """,
    ),
    "0002_pages": revision(
        "0002",
        "0001",
        """
        with op.batch_alter_table("book", recreate="always") as batch:
            batch.add_column(sa.Column("pages", sa.Integer(), nullable=False, server_default="0"))
        """,
        """
        with op.batch_alter_table("book") as batch:
            batch.drop_column("pages")
        """,
    ),
}


def test_batch_recreate_of_table_with_foreign_key_fails_on_mysql_only(project, run_checks):
    """MySQL's foreign key names are unique per database, so the copy cannot take the same name."""
    project(BATCH_RECREATE_WITH_FK)
    result = run_checks(engines=ALL_ENGINES)
    for engine in ("sqlite", "postgresql"):
        assert failed_checks(result, engine) == set(), item_failure(result, f"test_upgrade[{engine}]")
    text = item_failure(result, "test_upgrade[mysql]")
    assert "upgrade to 0002" in text
    assert "_alembic_tmp_book" in text


# ------------------------------------------------------------ SQLite only

ALTER_WITHOUT_BATCH = {
    "0001_tag": revision(
        "0001",
        None,
        """
        op.create_table(
            "tag",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("label", sa.String(20), nullable=False),
        )
        """,
        'op.drop_table("tag")',
    ),
    "0002_longer": revision(
        "0002",
        "0001",
        'op.alter_column("tag", "label", type_=sa.String(80), existing_type=sa.String(20), existing_nullable=False)',
        'op.execute("UPDATE tag SET label = substr(label, 1, 20)")  # values written since may be longer\n'
        'op.alter_column("tag", "label", type_=sa.String(20), existing_type=sa.String(80), existing_nullable=False)',
    ),
}
ALTER_MODEL = """
tag = sa.Table(
    "tag", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("label", sa.String(80), nullable=False),
)
"""


def test_alter_column_without_batch_mode_fails_on_sqlite_only(project, run_checks):
    project(ALTER_WITHOUT_BATCH, ALTER_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, "postgresql", "mysql")
    text = item_failure(result, "test_upgrade[sqlite]")
    assert "upgrade to 0002" in text
    assert "0002_longer.py" in text
    assert "sqlite3.OperationalError" in text


# ------------------------------------------------------------ no false alarms

CORRECT = {
    "0001_author": revision(
        "0001",
        None,
        """
        op.create_table(
            "author",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("name", sa.String(50), nullable=False, server_default="x"),
            sa.Column("email", sa.String(120), nullable=False),
            sa.Column("created", sa.DateTime(), nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")),
            sa.Column("updated", sa.DateTime(), nullable=True, server_default=sa.func.now()),
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
            sa.Column("banned", sa.Boolean(), nullable=False, server_default=sa.false()),
            sa.Column("score", sa.Integer(), nullable=False, server_default="0"),
            sa.Column("rank", sa.Integer(), nullable=False, server_default=sa.text("10")),
            sa.Column(
                "kind",
                sa.Enum("person", "org", name="author_kind", native_enum=False, length=10),
                nullable=False,
                server_default="person",
            ),
            sa.UniqueConstraint("email"),
            sa.CheckConstraint("score >= 0", name="ck_author_score"),
        )
        """,
        'op.drop_table("author")',
    ),
    "0002_book": revision(
        "0002",
        "0001",
        """
        op.create_table(
            "book",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("author_id", sa.Integer(), sa.ForeignKey("author.id"), nullable=False),
            sa.Column("editor_id", sa.Integer(), sa.ForeignKey("author.id", ondelete="SET NULL"), nullable=True),
            sa.Column("title", sa.String(100), nullable=False),
            sa.UniqueConstraint("author_id", "title"),
        )
        """,
        'op.drop_table("book")',
    ),
    "0003_rebuild": revision(
        "0003",
        "0002",
        """
        with op.batch_alter_table("book") as batch:
            batch.add_column(sa.Column("pages", sa.Integer(), nullable=False, server_default="0"))
            batch.alter_column("title", existing_type=sa.String(100), type_=sa.String(200), existing_nullable=False)
        op.create_table(
            "tag",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("label", sa.String(30), nullable=False, unique=True),
            sa.Column("color", sa.String(7), nullable=True),
        )
        with op.batch_alter_table("tag", recreate="always") as batch:
            batch.alter_column("color", existing_type=sa.String(7), nullable=False, server_default="#000000")
        """,
        """
        op.drop_table("tag")
        op.execute("UPDATE book SET title = substr(title, 1, 100)")  # titles written since may be longer
        with op.batch_alter_table("book") as batch:
            batch.alter_column("title", existing_type=sa.String(200), type_=sa.String(100), existing_nullable=False)
            batch.drop_column("pages")
        """,
    ),
}
CORRECT_MODEL = """
author = sa.Table(
    "author", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(50), nullable=False, server_default="x"),
    sa.Column("email", sa.String(120), nullable=False, unique=True),
    sa.Column("created", sa.DateTime(), nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")),
    sa.Column("updated", sa.DateTime(), nullable=True, server_default=sa.func.now()),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("banned", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("score", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("rank", sa.Integer(), nullable=False, server_default=sa.text("10")),
    sa.Column(
        "kind",
        sa.Enum("person", "org", name="author_kind", native_enum=False, length=10),
        nullable=False,
        server_default="person",
    ),
    sa.CheckConstraint("score >= 0", name="ck_author_score"),
)
book = sa.Table(
    "book", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("author_id", sa.Integer(), sa.ForeignKey("author.id"), nullable=False),
    sa.Column("editor_id", sa.Integer(), sa.ForeignKey("author.id", ondelete="SET NULL"), nullable=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("pages", sa.Integer(), nullable=False, server_default="0"),
    sa.UniqueConstraint("author_id", "title"),
)
tag = sa.Table(
    "tag", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("label", sa.String(30), nullable=False, unique=True),
    sa.Column("color", sa.String(7), nullable=False, server_default="#000000"),
)
"""


def test_correct_history_passes_on_every_engine(project, run_checks):
    """Server defaults, serial keys, unindexed FKs, unique and check constraints, batch rebuilds: no false alarm.

    The native PostgreSQL enum is covered by test_enum_type_dropped_by_downgrade_passes_on_postgresql.
    """
    project(CORRECT, CORRECT_MODEL)
    result = run_checks("-rA", engines=ALL_ENGINES)
    assert_checks(result, *ENGINES)
    output = result.stdout.str()
    assert "cannot be seeded" not in output
    result.stdout.fnmatch_lines(["*pytest-migrations summary*", "mysql: 3 revisions walked*"])


# ------------------------------------------------------------------ providers

ONE_TABLE = {
    "0001_thing": revision(
        "0001",
        None,
        """
        op.create_table(
            "thing",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("name", sa.String(40), nullable=False),
        )
        """,
        'op.drop_table("thing")',
    ),
}
ONE_TABLE_MODEL = """
thing = sa.Table(
    "thing", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(40), nullable=False),
)
"""


LOCAL_SERVER_TEST = """
import os
import tempfile
from pathlib import Path


def test_server_is_private_and_local(migrator, migrations_engine):
    assert migrator.database.server.origin.startswith("local ")
    assert migrator.database.url.port not in (5432, 3306)
    running = list(Path(tempfile.gettempdir()).glob(f"pytest-migrations-{os.getpid()}-{migrations_engine}-*"))
    assert running, "the local server keeps its data in a temp dir named after this process"
    commands = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            commands.append((proc / "cmdline").read_bytes().decode(errors="replace"))
        except OSError:
            pass
    assert any(str(running[0]) in command for command in commands), "the server's command line names its dir"
    migrator.upgrade()
    assert migrator.current() == ("0001",)
"""


def test_local_provider_starts_private_servers_and_removes_them(project, run_checks, pytester):
    assert own_leftovers() == ([], [])
    project(ONE_TABLE, ONE_TABLE_MODEL)
    pytester.makepyfile(test_where=LOCAL_SERVER_TEST)
    result = run_checks("--migrations-provider=local", engines="postgresql,mysql")
    assert_checks(result, "postgresql", "mysql")
    got = item_outcomes(result)
    assert got["test_server_is_private_and_local[postgresql]"] == "passed", result.stdout.str()
    assert got["test_server_is_private_and_local[mysql]"] == "passed", result.stdout.str()
    dirs, processes = own_leftovers()
    assert dirs == [], f"temp dirs left behind: {dirs}"
    assert processes == [], f"servers still running: {processes}"


def test_docker_provider_without_docker_fails_and_says_how_to_provide_a_server(project, run_checks, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # no Docker engine, even where one runs
    project(ONE_TABLE, ONE_TABLE_MODEL)
    result = run_checks("--migrations-provider=docker", engines="postgresql,mysql")
    got = item_outcomes(result)
    assert got["test_single_head"] == "passed"  # needs no server
    for engine in ("postgresql", "mysql"):
        assert got[f"test_upgrade[{engine}]"] == "failed"
        for check in CHECKS[2:]:  # one cause, one failure: the others point at test_upgrade
            assert got[f"{check}[{engine}]"] == "skipped", f"{check}[{engine}]: {got[f'{check}[{engine}]']}"
        text = item_failure(result, f"test_upgrade[{engine}]")
        assert f"no {engine} server is available" in text
        assert "Docker" in text
        assert "(1) a URL" in text
        assert "(2) local server binaries" in text
        assert "(3) Docker" in text
    result.assert_outcomes(passed=1, failed=2, skipped=10)


def test_server_url_password_is_never_shown(project, run_checks):
    project(ONE_TABLE, ONE_TABLE_MODEL)
    result = run_checks(
        "-rA",
        "-v",
        "--migrations-postgresql-url=postgresql://postgres:secretpw@127.0.0.1:1/postgres",
        engines="postgresql",
    )
    output = result.stdout.str() + result.stderr.str()
    assert "secretpw" not in output
    got = item_outcomes(result)
    assert got["test_single_head"] == "passed"
    assert got["test_upgrade[postgresql]"] == "failed"
    for check in CHECKS[2:]:
        assert got[f"{check}[postgresql]"] == "skipped", check
    text = item_failure(result, "test_upgrade[postgresql]")
    assert "cannot connect to" in text
    assert "127.0.0.1:1" in text


def _admin(engine: str) -> sa.Engine:
    url = sa.engine.make_url(SERVER_URLS[engine])
    if "+" not in url.drivername:
        url = url.set(drivername="postgresql+psycopg2" if engine == "postgresql" else "mysql+pymysql")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _database_names(admin: sa.Engine) -> set[str]:
    query = (
        "SELECT datname FROM pg_database"
        if admin.dialect.name == "postgresql"
        else "SELECT schema_name FROM information_schema.schemata"
    )
    with admin.connect() as conn:
        return {row[0] for row in conn.execute(sa.text(query))}


def _quote(admin: sa.Engine, name: str) -> str:
    return admin.dialect.identifier_preparer.quote_identifier(name)


def test_databases_of_a_killed_run_are_listed_then_dropped_with_drop_stale(project, run_checks):
    dead_pid = 4194000  # above any pid_max this machine uses
    with pytest.raises(ProcessLookupError):
        os.kill(dead_pid, 0)
    admins = {engine: _admin(engine) for engine in ("postgresql", "mysql")}
    stale = {
        engine: f"{DB_PREFIX}{HOST_TAG}_{dead_pid}_main_{secrets.token_hex(3)}" for engine in ("postgresql", "mysql")
    }
    try:
        for engine, admin in admins.items():
            with admin.connect() as conn:
                conn.execute(sa.text(f"CREATE DATABASE {_quote(admin, stale[engine])}"))
        project(ONE_TABLE, ONE_TABLE_MODEL)

        # The servers are looked at when the session starts, so collecting is enough to see it.
        listed = run_checks("--collect-only", engines="postgresql,mysql")
        for engine, admin in admins.items():
            listed.stdout.fnmatch_lines([f"*left by a killed run: database {stale[engine]} on *"])
            assert stale[engine] in _database_names(admin), "listing must not drop anything"
        listed.stdout.fnmatch_lines(["*--migrations-drop-stale*"])

        # The command as the hint gives it: no engine list, yet every server the run knows of is cleaned.
        dropped = run_checks("--collect-only", "--migrations-drop-stale", engines="sqlite")
        for engine, admin in admins.items():
            dropped.stdout.fnmatch_lines([f"*dropped: database {stale[engine]} on *"])
            assert stale[engine] not in _database_names(admin)
    finally:
        for engine, admin in admins.items():
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {_quote(admin, stale[engine])}"))
            admin.dispose()


INDEX_NOT_RESTORED = {
    "0001_t": revision(
        "0001",
        None,
        """
        op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("code", sa.String(20)))
        op.create_index("ix_t_code", "t", ["code"])
        """,
        'op.drop_table("t")',
    ),
    "0002_unindex": revision("0002", "0001", 'op.drop_index("ix_t_code", table_name="t")', ""),
}
UNINDEXED_MODEL = (
    't = sa.Table("t", metadata, sa.Column("id", sa.Integer(), primary_key=True), sa.Column("code", sa.String(20)))\n'
)


def test_downgrade_that_does_not_restore_a_dropped_index_is_caught_everywhere(project, run_checks):
    """DROP INDEX names only the index on PostgreSQL: the snapshot must still notice the table changed."""
    project(INDEX_NOT_RESTORED, UNINDEXED_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    for engine in ENGINES:
        # The re-upgrade then fails (the index is gone); the cycle is undone (rebuilt on MySQL) and the
        # walk goes on with its rows: the data check holds.
        assert failed_checks(result, engine) == {"test_stepwise_roundtrip"}, engine
        assert "t: index ix_t_code on (code) absent after downgrade of 0002, present before" in item_failure(
            result, f"test_stepwise_roundtrip[{engine}]"
        )


NOTE_UPGRADE = """
op.add_column("t", sa.Column("note", sa.String(40), server_default="none"))
op.create_index("ix_t_note", "t", ["note"])
op.execute("UPDATE t SET note = code")
"""
COLUMN_NOT_DROPPED = {
    "0001_t": revision(
        "0001",
        None,
        'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("code", sa.String(20)))',
        'op.drop_table("t")',
    ),
    "0002_note": revision(
        "0002",
        "0001",
        NOTE_UPGRADE,
        'op.drop_index("ix_t_note", table_name="t")',
    ),
}


def test_downgrade_leaving_an_added_column_is_caught_everywhere(project, run_checks):
    """ALTER TABLE, CREATE INDEX and UPDATE only: the snapshot reads just the table they name, and must see the column."""
    project(COLUMN_NOT_DROPPED, UNINDEXED_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    for engine in ENGINES:
        assert "test_stepwise_roundtrip" in failed_checks(result, engine), engine
        assert "t.note: present after downgrade of 0002, absent before" in item_failure(
            result, f"test_stepwise_roundtrip[{engine}]"
        ), engine


SELECT_INTO = {
    "0001_item": revision(
        "0001",
        None,
        'op.create_table("item", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(50)))',
        'op.drop_table("item")',
    ),
    "0002_copy": revision(
        "0002", "0001", 'op.execute("SELECT id, name INTO item_copy FROM item")', 'op.drop_table("item_copy")'
    ),
}
SELECT_INTO_MODEL = """
item = sa.Table("item", metadata, sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(50)))
item_copy = sa.Table("item_copy", metadata, sa.Column("id", sa.Integer()), sa.Column("name", sa.String(50)))
"""


def test_table_made_by_select_into_is_in_the_schema(project, run_checks):
    """SELECT ... INTO creates a table on PostgreSQL: the walk must not take it for a row change."""
    project(SELECT_INTO, SELECT_INTO_MODEL)
    assert_checks(run_checks(engines="postgresql"), "postgresql")


COLUMN_ADDED_AND_DROPPED = {
    "0001_t": COLUMN_NOT_DROPPED["0001_t"],
    "0002_note": revision(
        "0002",
        "0001",
        NOTE_UPGRADE,
        """
        op.drop_index("ix_t_note", table_name="t")
        op.drop_column("t", "note")
        """,
    ),
}
NOTE_MODEL = """
t = sa.Table(
    "t", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("code", sa.String(20)),
    sa.Column("note", sa.String(40), server_default="none", index=True),
)
"""


def test_column_added_by_alter_table_is_in_the_schema_at_head(project, run_checks):
    """After ALTER TABLE and CREATE INDEX alone, the snapshot reads only table t again: it must hold the new column."""
    project(COLUMN_ADDED_AND_DROPPED, NOTE_MODEL)
    assert_checks(run_checks(engines=ALL_ENGINES), *ENGINES)


HIDDEN_NEW_TABLE = {
    "0001_t": COLUMN_NOT_DROPPED["0001_t"],
    "0002_maker": revision(
        "0002",
        "0001",
        """
        op.execute(
            "CREATE FUNCTION make_u() RETURNS void LANGUAGE plpgsql AS "
            "$$ BEGIN CREATE TABLE u (id integer PRIMARY KEY); END $$"
        )
        """,
        'op.execute("DROP FUNCTION make_u()")',
    ),
    "0003_calls_and_splits": revision(
        "0003",
        "0002",
        """
        op.add_column("t", sa.Column("x", sa.Integer()))
        op.execute("SELECT make_u()")
        op.execute("ALTER TABLE t ADD COLUMN y integer; CREATE TABLE v (id integer PRIMARY KEY)")
        """,
        """
        op.drop_table("v")
        op.drop_table("u")
        op.drop_column("t", "y")
        op.drop_column("t", "x")
        """,
    ),
}
HIDDEN_NEW_TABLE_MODEL = """
t = sa.Table(
    "t", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("code", sa.String(20)),
    sa.Column("x", sa.Integer()),
    sa.Column("y", sa.Integer()),
)
u = sa.Table("u", metadata, sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False))
v = sa.Table("v", metadata, sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False))
"""


def test_tables_made_by_a_function_or_a_second_statement_are_in_the_schema(project, run_checks):
    """A SELECT that calls a function, or a string holding two statements, may create tables it does not start with."""
    project(HIDDEN_NEW_TABLE, HIDDEN_NEW_TABLE_MODEL)
    assert_checks(run_checks(engines="postgresql"), "postgresql")


ODD_NAMES = {
    "0001_order_items": revision(
        "0001",
        None,
        'op.create_table("order-items", sa.Column("id", sa.Integer(), primary_key=True))',
        'op.drop_table("order-items")',
    ),
    "0002_note": revision(
        "0002",
        "0001",
        'op.add_column("order-items", sa.Column("note", sa.String(40)))',
        'op.drop_column("order-items", "note")',
    ),
}
ODD_NAMES_MODEL = """
order_items = sa.Table(
    "order-items", metadata, sa.Column("id", sa.Integer(), primary_key=True), sa.Column("note", sa.String(40))
)
"""


def test_a_table_whose_name_is_not_one_word_is_followed_like_the_others(project, run_checks):
    project(ODD_NAMES, ODD_NAMES_MODEL)
    assert_checks(run_checks(engines=ALL_ENGINES), *ENGINES)


PARTITIONED = {
    "0001_m": revision(
        "0001",
        None,
        """
        op.execute("CREATE TABLE m (id integer NOT NULL, d date NOT NULL, v integer) PARTITION BY RANGE (d)")
        op.execute("CREATE TABLE m_all PARTITION OF m FOR VALUES FROM (MINVALUE) TO (MAXVALUE)")
        """,
        'op.execute("DROP TABLE m")',
    ),
    "0002_note": revision(
        "0002", "0001", 'op.add_column("m", sa.Column("note", sa.String(20)))', 'op.drop_column("m", "note")'
    ),
}
PARTITIONED_MODEL = """
m = sa.Table(
    "m", metadata,
    sa.Column("id", sa.Integer(), nullable=False, autoincrement=False),
    sa.Column("d", sa.Date(), nullable=False),
    sa.Column("v", sa.Integer()),
    sa.Column("note", sa.String(20)),
    postgresql_partition_by="RANGE (d)",
)
"""


def test_a_partitioned_table_is_compared_seeded_and_read_through_its_parent(project, run_checks):
    """A column added to the parent shows in every partition; the partitions are not told apart from it."""
    project(PARTITIONED, PARTITIONED_MODEL)
    assert_checks(run_checks(engines="postgresql"), "postgresql")


SEQUENCE_LEFT_BEHIND = {
    "0001_t": COLUMN_NOT_DROPPED["0001_t"],
    "0002_invoice_no": revision("0002", "0001", 'op.execute("CREATE SEQUENCE invoice_no")', ""),
}


def test_a_free_sequence_left_behind_by_a_downgrade_is_caught(project, run_checks):
    """A sequence no column owns is part of the schema (serial and identity sequences are their column's)."""
    project(SEQUENCE_LEFT_BEHIND, UNINDEXED_MODEL)
    result = run_checks(engines="postgresql")
    assert "test_stepwise_roundtrip" in failed_checks(result, "postgresql")
    assert "sequence invoice_no" in item_failure(result, "test_stepwise_roundtrip[postgresql]")


SHARED_ENUM = {
    "0001_item": revision(
        "0001",
        None,
        """
        op.create_table(
            "item",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("status", sa.Enum("a", "b", name="status"), nullable=False),
        )
        """,
        """
        op.drop_table("item")
        sa.Enum(name="status").drop(op.get_bind())
        """,
    ),
    # As autogenerate writes it: the second table's column names the same enum type.
    "0002_archive": revision(
        "0002",
        "0001",
        """
        op.create_table(
            "archive",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("status", sa.Enum("a", "b", name="status"), nullable=False),
        )
        """,
        'op.drop_table("archive")',
        message="archive",
    ),
}
SHARED_ENUM_MODEL = """
status = sa.Enum("a", "b", name="status")
item = sa.Table("item", metadata, sa.Column("id", sa.Integer(), primary_key=True), sa.Column("status", status, nullable=False))
archive = sa.Table("archive", metadata, sa.Column("id", sa.Integer(), primary_key=True), sa.Column("status", status, nullable=False))
"""


def test_a_revision_that_passes_only_inside_one_upgrade_command_is_a_latent_defect(project, run_checks):
    """`alembic upgrade head` passes (Alembic's memo skips the second CREATE TYPE); 0001 then head fails."""
    project(SHARED_ENUM, SHARED_ENUM_MODEL)
    result = run_checks(engines="postgresql")
    assert failed_checks(result, "postgresql") == {"test_upgrade"}  # the others point there, skipped
    lines = failure_lines(result, "test_upgrade[postgresql]")
    assert lines[1] == (
        'upgrade to 0002 ("archive", migrations/versions/0002_archive.py) fails on postgresql when it runs in an '
        "`alembic upgrade` command of its own, and passes only in one command with the revisions before it."
    )
    assert "a database upgraded in two steps (`alembic upgrade 0001`, later `alembic upgrade head`)" in lines[2]
    assert lines[-2] == "while running: CREATE TYPE status AS ENUM ('a', 'b')"
    assert lines[-1].endswith('DuplicateObject: type "status" already exists')
    # The same cause elsewhere is one line pointing at it; the other checks ran to the end.
    assert skip_reason(result, "test_stepwise_roundtrip[postgresql]") == (
        "the upgrade to 0002, run again after its downgrade, fails as it does in a command of its own "
        "(see test_upgrade[postgresql])."
    )
    assert skip_reason(result, "test_roundtrip[postgresql]") == (
        "the upgrade to 0002 fails in a command of its own (see test_upgrade[postgresql]); base -> head stops there."
    )
