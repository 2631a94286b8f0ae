"""Common database errors come with what they mean and the fix (issue 17), only where the error says so.

Each history here fails for real on the engine where the error happens; the hint is one line of the
failure message, after what failed and before `at file:line`, the failing SQL and the database's error.
"""

from __future__ import annotations

import pytest

from conftest import ALL_ENGINES, failed_checks, failure_lines, item_reports, revision, skip_reason

# ------------------------------------------------------------ MySQL/MariaDB error 1553

# What autogenerate writes for a model with parent, and child whose parent_id has index=True: the
# downgrade drops the index before the table, and MySQL refuses to drop an index a foreign key uses.
FK_INDEX_DROPPED_FIRST = {
    "0001_parent_child": revision(
        "0001",
        None,
        """
        op.create_table("parent", sa.Column("id", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("id"))
        op.create_table(
            "child",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("parent_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["parent_id"], ["parent.id"]),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_child_parent_id"), "child", ["parent_id"], unique=False)
        """,
        """
        op.drop_index(op.f("ix_child_parent_id"), table_name="child")
        op.drop_table("child")
        op.drop_table("parent")
        """,
        message="parent and child",
    ),
}
HINT_1553 = (
    "MySQL/MariaDB will not drop the index ix_child_parent_id while a foreign key needs it (error 1553): drop "
    'the foreign key first (op.drop_constraint(..., type_="foreignkey")), or, where the table is dropped anyway, '
    "leave the index to drop_table (autogenerate writes drop_index before drop_table, the order that fails here)."
)


def test_mysql_error_1553_says_the_index_is_needed_by_a_foreign_key(project, run_checks):
    project(FK_INDEX_DROPPED_FIRST)
    result = run_checks(engines=ALL_ENGINES)
    assert failed_checks(result, "sqlite") == failed_checks(result, "postgresql") == set()
    assert failed_checks(result, "mysql") == {"test_stepwise_roundtrip"}  # the others point there, skipped
    lines = failure_lines(result, "test_stepwise_roundtrip[mysql]")
    assert (
        lines[1] == 'downgrade of 0001 ("parent and child", migrations/versions/0001_parent_child.py) failed on mysql.'
    )
    assert (
        lines[2] == "If 0001 is meant to be irreversible, declare it in the pytest ini: migrations_irreversible = 0001"
    )
    assert lines[3] == HINT_1553
    assert lines[4] == "To see it by hand: alembic upgrade 0001 && alembic downgrade -1"
    assert lines[5].startswith("at ") and lines[5].endswith("0001_parent_child.py:29")
    assert lines[6] == "while running: DROP INDEX ix_child_parent_id ON child"
    assert lines[7] == (
        "pymysql.OperationalError: (1553, \"Cannot drop index 'ix_child_parent_id': needed in a foreign key constraint\")"
    )
    assert len(lines) == 8


def test_a_failed_downgrade_mysql_cannot_undo_is_told_in_full_once(project, run_checks):
    """The downgrade drops a table before it fails: MySQL cannot undo that, so the walk starts again past it.

    The stepwise cycle tells the failure in full; head -> base in the second walk meets it again and
    points there, and neither failure repeats the note about the second walk in a section of its own.
    """
    first = FK_INDEX_DROPPED_FIRST["0001_parent_child"]
    first = first.replace(
        '    op.drop_index(op.f("ix_child_parent_id"), table_name="child")\n',
        '    op.drop_table("tag")\n    op.drop_index(op.f("ix_child_parent_id"), table_name="child")\n',
    ).replace(
        '    op.create_index(op.f("ix_child_parent_id"), "child", ["parent_id"], unique=False)\n',
        '    op.create_index(op.f("ix_child_parent_id"), "child", ["parent_id"], unique=False)\n'
        '    op.create_table("tag", sa.Column("id", sa.Integer(), primary_key=True))\n',
    )
    second = revision(
        "0002", "0001", 'op.add_column("tag", sa.Column("label", sa.String(20)))', 'op.drop_column("tag", "label")'
    )
    project({"0001_parent_child": first, "0002_label": second})
    result = run_checks(engines="mysql")
    assert failed_checks(result, "mysql") == {"test_stepwise_roundtrip"}  # the others point there, skipped
    assert skip_reason(result, "test_downgrade[mysql]") == (
        "the downgrade of 0001 fails (see test_stepwise_roundtrip[mysql]); head -> base stops there."
    )
    stepwise = failure_lines(result, "test_stepwise_roundtrip[mysql]")
    assert stepwise[1].startswith(
        "note: after 0001 (its failed downgrade changed the database, which mysql cannot undo)"
    )
    assert HINT_1553 in stepwise
    assert sum("Cannot drop index" in line for line in stepwise) == 1
    for name in ("test_downgrade[mysql]", "test_stepwise_roundtrip[mysql]"):
        titles = [title for title, _text in item_reports(result)[name].sections]
        assert not [title for title in titles if "pytest-migrations notes" in title], (name, titles)


# ------------------------------------------------------------ PostgreSQL DependentObjectsStillExist

PARENT_DROPPED_FIRST = {
    "0001_parent_child": revision(
        "0001",
        None,
        """
        op.create_table("parent", sa.Column("id", sa.Integer(), primary_key=True))
        op.create_table(
            "child",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("parent_id", sa.Integer(), sa.ForeignKey("parent.id"), nullable=False),
        )
        """,
        """
        op.drop_table("parent")
        op.drop_table("child")
        """,
        message="parent and child",
    ),
}
HINT_DEPENDENTS = (
    "Other objects depend on table parent: constraint child_parent_id_fkey on table child depends on table parent. "
    "Drop them first (tables in the reverse order of their creation); CASCADE drops them too, so use it only when "
    "that is intended."
)


def test_postgresql_dependent_objects_are_named_with_the_order_that_drops_them(project, run_checks):
    project(PARENT_DROPPED_FIRST)
    result = run_checks(engines=ALL_ENGINES)
    assert failed_checks(result, "sqlite") == set()  # SQLite does not enforce the foreign key on DROP TABLE
    assert failed_checks(result, "postgresql") == {"test_stepwise_roundtrip"}  # the others point there, skipped
    lines = failure_lines(result, "test_stepwise_roundtrip[postgresql]")
    assert lines[1] == (
        'downgrade of 0001 ("parent and child", migrations/versions/0001_parent_child.py) failed on postgresql.'
    )
    assert (
        lines[2] == "If 0001 is meant to be irreversible, declare it in the pytest ini: migrations_irreversible = 0001"
    )
    assert lines[3] == HINT_DEPENDENTS
    assert lines[4] == "To see it by hand: alembic upgrade 0001 && alembic downgrade -1"
    assert lines[5].startswith("at ") and lines[5].endswith("0001_parent_child.py:26")
    assert lines[6] == "while running: DROP TABLE parent"
    assert lines[7] == (
        "psycopg2.DependentObjectsStillExist: cannot drop table parent because other objects depend on it "
        "DETAIL: constraint child_parent_id_fkey on table child depends on table parent "
        "HINT: Use DROP ... CASCADE to drop the dependent objects too."
    )
    assert len(lines) == 8
    # MariaDB refuses the same DROP TABLE with another error (1451), which is not one of these: no hint.
    assert failed_checks(result, "mysql") == {"test_stepwise_roundtrip"}  # the others point there, skipped
    mysql = failure_lines(result, "test_stepwise_roundtrip[mysql]")
    assert mysql[3] == "To see it by hand: alembic upgrade 0001 && alembic downgrade -1"
    assert mysql[4].startswith("at ") and mysql[5] == "while running: DROP TABLE parent"
    assert mysql[6].startswith("pymysql.IntegrityError: (1451, ")
    assert len(mysql) == 7


# ------------------------------------------------------------ SQLite ALTER without batch mode

TAG = revision(
    "0001",
    None,
    """
    op.create_table(
        "tag",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("label", sa.String(20), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
    )
    """,
    'op.drop_table("tag")',
)
SQLITE_ALTERS = {
    "nullable": (
        'op.alter_column("tag", "label", existing_type=sa.String(20), nullable=False)',
        'op.alter_column("tag", "label", existing_type=sa.String(20), nullable=True)',
        "while running: ALTER TABLE tag ALTER COLUMN label SET NOT NULL",
        'sqlite3.OperationalError: near "ALTER": syntax error',
        "tag",
    ),
    "unique constraint": (
        'op.create_unique_constraint("uq_tag_label", "tag", ["label"])',
        'op.drop_constraint("uq_tag_label", "tag", type_="unique")',
        None,
        "NotImplementedError: No support for ALTER of constraints in SQLite dialect. Please refer to the batch mode "
        "feature which allows for SQLite migrations using a copy-and-move strategy.",
        "...",
    ),
}


def sqlite_hint(table: str) -> str:
    return (
        "SQLite's ALTER TABLE cannot do this (it only renames tables and columns, and adds and drops columns): use "
        f'batch mode, which copies the table: `with op.batch_alter_table("{table}") as batch_op:` and the same '
        "operation on batch_op; for autogenerate, pass render_as_batch=True to context.configure in env.py."
    )


@pytest.mark.parametrize("change", list(SQLITE_ALTERS))
def test_sqlite_alter_without_batch_mode_says_use_batch_mode(project, run_checks, change):
    upgrade, downgrade, statement, error, table = SQLITE_ALTERS[change]
    project({"0001_tag": TAG, "0002_change": revision("0002", "0001", upgrade, downgrade, message="change")})
    result = run_checks(engines=ALL_ENGINES)
    assert failed_checks(result, "postgresql") == failed_checks(result, "mysql") == set()
    assert "test_upgrade" in failed_checks(result, "sqlite")
    lines = failure_lines(result, "test_upgrade[sqlite]")
    assert lines[1] == 'upgrade to 0002 ("change", migrations/versions/0002_change.py) failed on sqlite.'
    assert lines[2] == sqlite_hint(table)
    assert lines[3] == "To see it by hand: alembic upgrade 0002"
    assert lines[4].startswith("at ") and lines[4].endswith("0002_change.py:17")
    assert lines[5:] == ([statement] if statement else []) + [error]


# ------------------------------------------------------------ PostgreSQL type created twice

ENUM_CREATED_TWICE = {
    "0001_item": revision(
        "0001",
        None,
        """
        status = postgresql.ENUM("a", "b", name="status")
        status.create(op.get_bind())
        op.create_table(
            "item",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("status", status, nullable=False),
        )
        """,
        """
        op.drop_table("item")
        postgresql.ENUM(name="status").drop(op.get_bind())
        """,
        message="item",
    ).replace("from alembic import op\n", "from alembic import op\nfrom sqlalchemy.dialects import postgresql\n"),
}
HINT_TYPE = (
    'The type "status" already exists when this upgrade creates it: an earlier revision (or an earlier statement '
    "of this one) created it, or a downgrade left it behind. Create it once and use it elsewhere with "
    'create_type=False (postgresql.ENUM(..., name="status", create_type=False)), and drop it in the downgrade '
    'that drops its last table (sa.Enum(name="status").drop(op.get_bind())).'
)


def test_postgresql_type_created_twice_says_create_it_once(project, run_checks):
    project(ENUM_CREATED_TWICE)
    result = run_checks(engines="postgresql")
    assert "test_upgrade" in failed_checks(result, "postgresql")
    lines = failure_lines(result, "test_upgrade[postgresql]")
    assert lines[1] == 'upgrade to 0001 ("item", migrations/versions/0001_item.py) failed on postgresql.'
    assert lines[2] == HINT_TYPE
    assert lines[3] == "To see it by hand: alembic upgrade 0001"
    assert lines[4].startswith("at ") and lines[4].endswith("0001_item.py:20")
    assert lines[5:] == [
        "while running: CREATE TYPE status AS ENUM ('a', 'b')",
        'psycopg2.DuplicateObject: type "status" already exists',
    ]


ENUM_COLUMN_ADDED = {
    "0001_item": revision(
        "0001",
        None,
        'op.create_table("item", sa.Column("id", sa.Integer(), primary_key=True))',
        'op.drop_table("item")',
    ),
    # What autogenerate writes for a new Enum column on an existing table: no CREATE TYPE on PostgreSQL.
    "0002_kind": revision(
        "0002",
        "0001",
        'op.add_column("item", sa.Column("kind", sa.Enum("small", "large", name="item_kind"), nullable=True))',
        'op.drop_column("item", "kind")',
        message="item kind",
    ),
}


def test_postgresql_enum_column_added_without_its_type_says_create_the_type(project, run_checks):
    project(ENUM_COLUMN_ADDED)
    result = run_checks(engines=ALL_ENGINES)
    assert failed_checks(result, "sqlite") == failed_checks(result, "mysql") == set()
    lines = failure_lines(result, "test_upgrade[postgresql]")
    assert lines[1] == 'upgrade to 0002 ("item kind", migrations/versions/0002_kind.py) failed on postgresql.'
    assert lines[2] == (
        'The type "item_kind" does not exist yet: op.add_column and op.alter_column do not create the enum types '
        'their columns use (op.create_table does). Create it first in this revision, sa.Enum(..., name="item_kind")'
        ".create(op.get_bind(), checkfirst=True), and drop it in the downgrade after the column."
    )
    assert lines[-1].startswith('psycopg2.UndefinedObject: type "item_kind" does not exist')


STATUS_COLUMN = 'sa.Column("status", sa.Enum("a", "b", name="status"), nullable=False)'
ENUM_LEFT_BEHIND = {
    "0001_item": revision(
        "0001",
        None,
        f'op.create_table("item", sa.Column("id", sa.Integer(), primary_key=True), {STATUS_COLUMN})',
        'op.drop_table("item")',
        message="item",
    ),
}
ENUM_SHARED = {
    **ENUM_LEFT_BEHIND,
    "0002_archive": revision(
        "0002",
        "0001",
        f'op.create_table("archive", sa.Column("id", sa.Integer(), primary_key=True), {STATUS_COLUMN})',
        'op.drop_table("archive")',
        message="archive",
    ),
}
ENUM_SHARED["0001_item"] = ENUM_SHARED["0001_item"].replace(
    'op.drop_table("item")', 'op.drop_table("item")\n    sa.Enum(name="status").drop(op.get_bind())'
)
TOLD = {
    # The snapshots show the type left behind: that line and the enum line are the cause.
    "left behind": (
        ENUM_LEFT_BEHIND,
        "test_stepwise_roundtrip[postgresql]",
        "The downgrade of 0001 left behind what its upgrade creates again (listed above).",
    ),
    # Alembic's memo hid the second CREATE TYPE in one command: its own paragraph tells why and the fix.
    "only in one command": (
        ENUM_SHARED,
        "test_upgrade[postgresql]",
        "Alembic remembers the types (PostgreSQL enums) a command has created and does not create them again",
    ),
}


@pytest.mark.parametrize("case", list(TOLD))
def test_a_type_whose_cause_the_walk_told_gets_no_second_hint(project, run_checks, case):
    history, item, told = TOLD[case]
    project(history)
    result = run_checks(engines="postgresql")
    lines = failure_lines(result, item)
    assert any(line.startswith(told) for line in lines)
    assert not [line for line in lines if "already exists when this upgrade creates it" in line]
    assert lines[-1] == 'psycopg2.DuplicateObject: type "status" already exists'


# ------------------------------------------------------------ the fixes the hints name


def _fixed(history: dict[str, str], old: str, new: str) -> dict[str, str]:
    name, text = next(iter(history.items()))
    assert old in text
    return {**history, name: text.replace(old, new)}


FIXED = {
    "1553: the index left to drop_table": (
        _fixed(FK_INDEX_DROPPED_FIRST, '    op.drop_index(op.f("ix_child_parent_id"), table_name="child")\n', ""),
        ALL_ENGINES,
    ),
    "dependents dropped first": (
        _fixed(
            PARENT_DROPPED_FIRST,
            'op.drop_table("parent")\n    op.drop_table("child")',
            'op.drop_table("child")\n    op.drop_table("parent")',
        ),
        ALL_ENGINES,
    ),
    **{
        f"batch mode: {change}": (
            {
                "0001_tag": TAG,
                "0002_change": revision(
                    "0002",
                    "0001",
                    f'with op.batch_alter_table("tag") as batch_op:\n    batch_op.{upgrade}',
                    f'with op.batch_alter_table("tag") as batch_op:\n    batch_op.{downgrade}',
                ),
            },
            "sqlite",
        )
        for change, upgrade, downgrade in [
            (
                "nullable",
                'alter_column("label", existing_type=sa.String(20), nullable=False)',
                'alter_column("label", existing_type=sa.String(20), nullable=True)',
            ),
            (
                "unique constraint",
                'create_unique_constraint("uq_tag_label", ["label"])',
                'drop_constraint("uq_tag_label", type_="unique")',
            ),
        ]
    },
    "create_type=False": (
        _fixed(ENUM_CREATED_TWICE, 'name="status")\n', 'name="status", create_type=False)\n'),
        "postgresql",
    ),
}


@pytest.mark.parametrize("fix", list(FIXED))
def test_the_fix_a_hint_names_makes_the_history_pass(project, run_checks, fix):
    history, engines = FIXED[fix]
    project(history)
    result = run_checks(engines=engines)
    for engine in engines.split(","):
        assert failed_checks(result, engine) == set(), engine


# ------------------------------------------------------------ no evidence, no hint


def test_a_failure_without_these_errors_gets_no_hint(project, run_checks, engine):
    project(
        {
            "0001_t": revision(
                "0001",
                None,
                'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))',
                'op.drop_index("ix_no_such_index", table_name="t")\nop.drop_table("t")',
                message="t",
            )
        }
    )
    result = run_checks(engines=engine)
    assert failed_checks(result, engine) == {"test_stepwise_roundtrip"}  # the others point there, skipped
    lines = failure_lines(result, f"test_stepwise_roundtrip[{engine}]")
    assert lines[1] == f'downgrade of 0001 ("t", migrations/versions/0001_t.py) failed on {engine}.'
    assert (
        lines[2] == "If 0001 is meant to be irreversible, declare it in the pytest ini: migrations_irreversible = 0001"
    )
    assert lines[3] == "To see it by hand: alembic upgrade 0001 && alembic downgrade -1"
    assert lines[4].startswith("at ")
    assert lines[5].startswith("while running: DROP INDEX ")
    assert len(lines) == 7


# ------------------------------------------------------------ the failing statement as written

SQLITE_ONLY_FUNCTION = {
    "0001_t": revision(
        "0001",
        None,
        'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))\n'
        "op.execute(\"SELECT strftime('%Y', 'now')\")",
        'op.drop_table("t")',
    )
}


def test_the_failing_statement_is_shown_as_the_revision_wrote_it(project, run_checks):
    """psycopg2 and PyMySQL take % as a parameter marker, so SQLAlchemy sends %% for a literal %."""
    project(SQLITE_ONLY_FUNCTION)
    result = run_checks(engines=ALL_ENGINES)
    assert failed_checks(result, "sqlite") == set()
    for engine in ("postgresql", "mysql"):
        lines = failure_lines(result, f"test_upgrade[{engine}]")
        assert "while running: SELECT strftime('%Y', 'now')" in lines, lines


# ------------------------------------------------------------ drop_constraint(None), as autogenerate writes it

UNNAMED_UNIQUE = {
    "0001_t": revision(
        "0001",
        None,
        'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("code", sa.String(10)))',
        'op.drop_table("t")',
    ),
    "0002_unique": revision(
        "0002",
        "0001",
        'op.create_unique_constraint(None, "t", ["code"])',
        'op.drop_constraint(None, "t", type_="unique")',
        message="unique code",
    ),
}
HINT_UNNAMED = (
    "op.drop_constraint() was given no name (None, as autogenerate writes for a constraint the model left "
    "unnamed), and the database needs one: write the name the database gave the constraint, or give the "
    "MetaData a naming_convention so that autogenerate writes names."
)


def test_drop_constraint_without_a_name_says_to_name_it(project, run_checks):
    project(UNNAMED_UNIQUE)
    result = run_checks(engines="postgresql,mysql")
    for engine in ("postgresql", "mysql"):
        lines = failure_lines(result, f"test_stepwise_roundtrip[{engine}]")
        assert lines[1].startswith('downgrade of 0002 ("unique code"'), lines
        assert lines[3] == HINT_UNNAMED, lines


# ------------------------------------------------------------ hints that read the history (issue 22)

STATUS = revision(
    "0001",
    None,
    """
    op.create_table(
        "post",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("status", sa.Enum("draft", "published", name="status"), nullable=True),
    )
    """,
    'op.drop_table("post")\nsa.Enum(name="status").drop(op.get_bind())',
)


def test_an_enum_value_its_downgrade_leaves_says_add_value_if_not_exists(project, run_checks):
    project(
        {
            "0001_post": STATUS,
            "0002_archived": revision("0002", "0001", "op.execute(\"ALTER TYPE status ADD VALUE 'archived'\")", "pass"),
        }
    )
    result = run_checks(engines="postgresql")
    text = "\n".join(failure_lines(result, "test_stepwise_roundtrip[postgresql]"))
    assert "ALTER TYPE status ADD VALUE fails the second time: write ADD VALUE IF NOT EXISTS" in text, text
    assert "drop_table does not drop the enum types" not in text


def test_an_autogenerated_rename_is_told_to_use_alter_column_not_a_server_default(project, run_checks):
    project(
        {
            "0001_person": revision(
                "0001",
                None,
                'op.create_table("person", sa.Column("id", sa.Integer(), primary_key=True), '
                'sa.Column("name", sa.String(40), nullable=False))',
                'op.drop_table("person")',
            ),
            "0002_rename": revision(
                "0002",
                "0001",
                """
                op.add_column("person", sa.Column("full_name", sa.String(40), nullable=False))
                op.drop_column("person", "name")
                """,
                """
                op.add_column("person", sa.Column("name", sa.String(40), nullable=False))
                op.drop_column("person", "full_name")
                """,
            ),
        }
    )
    result = run_checks(engines="postgresql")
    text = "\n".join(failure_lines(result, "test_data_preserved[postgresql]"))
    assert (
        "This upgrade adds person.full_name and drops person.name: if that is a rename (autogenerate writes one as "
        'add_column + drop_column, which loses every value), write op.alter_column("person", "name", '
        'new_column_name="full_name") instead' in text
    ), text
    assert "give new NOT NULL columns a server_default" not in text


def test_a_table_no_revision_creates_points_at_create_all_and_the_prepare_hook(project, run_checks):
    project(
        {
            "0001_legacy": revision(
                "0001",
                None,
                'op.add_column("legacy", sa.Column("note", sa.String(20)))',
                'op.drop_column("legacy", "note")',
            )
        }
    )
    result = run_checks(engines=ALL_ENGINES)
    for engine in ("sqlite", "postgresql", "mysql"):
        text = "\n".join(failure_lines(result, f"test_upgrade[{engine}]"))
        assert "No revision of this history creates the table legacy" in text, text
        assert "migrations_start = create_all" in text and "pytest_migrations_prepare_database" in text


def test_a_statement_on_a_second_connection_says_use_the_migrations_own(project, run_checks):
    project(
        {
            "0001_tag": revision(
                "0001",
                None,
                """
                op.create_table("tag", sa.Column("id", sa.Integer(), primary_key=True))
                with op.get_bind().engine.connect() as other:
                    other.execute(sa.text("SELECT count(*) FROM tag"))
                """,
                'op.drop_table("tag")',
            )
        }
    )
    result = run_checks(engines="postgresql")
    text = "\n".join(failure_lines(result, "test_upgrade[postgresql]"))
    assert "The statement that failed ran on a second connection to the database" in text, text
    assert "No revision of this history creates" not in text
