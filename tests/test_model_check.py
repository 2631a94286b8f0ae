"""The model check on real schemas (issue 14): env.py's autogenerate filters, engine spellings that mean
the same schema, what the model's database is given before create_all, and an empty model.

Each project's env.py is the one `alembic init -t generic` writes (Alembic's own template file), with
only the edits a user makes: target_metadata, and the filter functions passed to context.configure.
"""

from __future__ import annotations

import textwrap

import pytest

from conftest import _TEMPLATE, ALL_ENGINES, ENGINES, assert_checks, failure_lines, item_failure, revision

MODEL = "test_model_matches_migrations"


def env_with(*configure: str, before: str = "") -> str:
    """The generic env.py, importing the model's metadata and passing `configure` to both context.configure calls."""
    env = (_TEMPLATE / "env.py").read_text()
    env = env.replace("target_metadata = None", "from models import metadata as target_metadata\n" + before)
    extra = "".join(f", {item}" for item in configure)
    assert env.count("target_metadata=target_metadata") == 2  # offline and online
    return env.replace("target_metadata=target_metadata", f"target_metadata=target_metadata{extra}")


def models(text: str) -> str:
    return "import sqlalchemy as sa\n\nmetadata = sa.MetaData()\n\n" + textwrap.dedent(text)


AUTHOR = 'sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(50), nullable=True)'

# The application's own tables, plus two it does not model: one left out of autogenerate on purpose
# (a job queue's table), one it simply forgot.
FILTERED = {
    "0001_tables": revision(
        "0001",
        None,
        f"""
        op.create_table("author", {AUTHOR}, sa.Column("legacy_code", sa.String(10), nullable=True))
        op.create_table("job_queue", sa.Column("id", sa.Integer(), primary_key=True))
        op.create_table("forgotten", sa.Column("id", sa.Integer(), primary_key=True))
        """,
        """
        op.drop_table("forgotten")
        op.drop_table("job_queue")
        op.drop_table("author")
        """,
    ),
}
FILTERED_MODEL = """
author = sa.Table(
    "author", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(50), nullable=True),
    sa.Column("search_vector", sa.Text(), info={"skip_autogenerate": True}),
    sa.Column("email", sa.String(100)),
)
"""


def test_include_object_leaves_out_what_the_application_leaves_out(project, run_checks, pytester):
    include_object = """
def include_object(object, name, type_, reflected, compare_to):
    if type_ == "table" and name == "job_queue":
        return False  # the job queue library manages it
    if type_ == "column" and name == "legacy_code" and reflected and compare_to is None:
        return False  # about to be dropped by hand; autogenerate must not drop it
    return not object.info.get("skip_autogenerate", False)
"""
    project(FILTERED, env_py=env_with("include_object=include_object", before=include_object))
    (pytester.path / "models.py").write_text(models(FILTERED_MODEL))
    result = run_checks()
    assert_checks(result, "sqlite", failed={f"{MODEL}[sqlite]"})
    # Not job_queue, author.legacy_code or author.search_vector: env.py's include_object leaves them out.
    assert failure_lines(result, f"{MODEL}[sqlite]")[2:] == [
        "  author.email: absent at head, present in the model",
        "  table forgotten: present at head, absent in the model",
    ]


def test_include_name_leaves_out_tables_and_indexes_by_name(project, run_checks, pytester):
    include_name = """
def include_name(name, type_, parent_names):
    if type_ == "table":
        return name in target_metadata.tables  # sessions belong to the web framework
    if type_ == "index":
        return not name.startswith("ix_dba_")  # indexes the DBA adds by hand
    return True
"""
    revisions = {
        "0001_tables": revision(
            "0001",
            None,
            f"""
            op.create_table("author", {AUTHOR})
            op.create_table("sessions", sa.Column("id", sa.Integer(), primary_key=True))
            op.create_index("ix_dba_author_name", "author", ["name"])
            """,
            """
            op.drop_index("ix_dba_author_name", table_name="author")
            op.drop_table("sessions")
            op.drop_table("author")
            """,
        ),
    }
    project(revisions, env_py=env_with("include_name=include_name", before=include_name))
    (pytester.path / "models.py").write_text(models(f'author = sa.Table("author", metadata, {AUTHOR})\n'))
    result = run_checks()
    assert_checks(result, "sqlite")


AUDIT = {
    "0001_audit": revision(
        "0001",
        None,
        """
        op.execute("CREATE SCHEMA audit")
        op.create_table("log", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("message", sa.Text()), schema="audit")
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
    sa.Column("message", sa.Text(), nullable=False),
    schema="audit",
)
"""


@pytest.mark.parametrize("include_schemas", [False, True])
def test_other_postgresql_schemas_are_compared_only_with_include_schemas(
    project, run_checks, pytester, include_schemas
):
    configure = ("include_schemas=True",) if include_schemas else ()
    project(AUDIT, env_py=env_with(*configure))
    (pytester.path / "models.py").write_text(models(AUDIT_MODEL))
    result = run_checks(engines="postgresql")
    if not include_schemas:  # as autogenerate: the default schema only
        assert_checks(result, "postgresql")
        return
    assert_checks(result, "postgresql", failed={f"{MODEL}[postgresql]"})
    assert failure_lines(result, f"{MODEL}[postgresql]")[2:] == [
        "  audit.log.message: nullable at head, NOT NULL in the model"
    ]


# Spellings of the same boolean defaults: the model's, and the migration's on each engine.
BOOLEANS = {
    "0001_flags": revision(
        "0001",
        None,
        """
        dialect = op.get_bind().dialect.name
        false = {"postgresql": "'f'", "mysql": "b'0'"}.get(dialect, "FALSE")
        true = {"postgresql": "'true'", "mysql": "true"}.get(dialect, "TRUE")
        op.create_table(
            "flag",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("active", sa.Boolean(), server_default=sa.text(false), nullable=False),
            sa.Column("verified", sa.Boolean(), server_default=sa.text(true), nullable=False),
            sa.Column("hidden", sa.Boolean(), server_default=sa.false(), nullable=False),
        )
        """,
        'op.drop_table("flag")',
    ),
}
BOOLEANS_MODEL = """
flag = sa.Table(
    "flag", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("active", sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column("verified", sa.Boolean(), server_default="1", nullable=False),
    sa.Column("hidden", sa.Boolean(), server_default="0", nullable=False),
)
"""


def test_boolean_default_spellings_are_one_default(project, run_checks, engine):
    project(BOOLEANS, BOOLEANS_MODEL)
    result = run_checks(engines=engine)
    assert_checks(result, engine)


# MariaDB makes an index for a foreign key that has none, named after the constraint or the column,
# and leaves it under that name when the table changes around it: renaming the column keeps the
# index `parent_id` on owner_id, where create_all's database has `owner_id`. (MariaDB 10.11 renames
# it along when a rebuild adds the constraint again; MySQL 8 keeps the temporary table's name after
# a copy-and-rename.)
RENAMED = {
    "0001_tables": revision(
        "0001",
        None,
        """
        op.create_table("parent", sa.Column("id", sa.Integer(), primary_key=True))
        op.create_table(
            "child",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("parent_id", sa.Integer(), sa.ForeignKey("parent.id"), nullable=True),
        )
        op.create_table(
            "tagged",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("parent_id", sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(["parent_id"], ["parent.id"], name="fk_tagged_parent"),
        )
        """,
        """
        op.drop_table("tagged")
        op.drop_table("child")
        op.drop_table("parent")
        """,
    ),
    "0002_owner": revision(
        "0002",
        "0001",
        'op.alter_column("child", "parent_id", new_column_name="owner_id", existing_type=sa.Integer())',
        'op.alter_column("child", "owner_id", new_column_name="parent_id", existing_type=sa.Integer())',
    ),
}
RENAMED_MODEL = """
parent = sa.Table("parent", metadata, sa.Column("id", sa.Integer(), primary_key=True))
child = sa.Table(
    "child", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("owner_id", sa.Integer(), sa.ForeignKey("parent.id"), nullable=True),
)
tagged = sa.Table(
    "tagged", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("parent_id", sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(["parent_id"], ["parent.id"], name="fk_tagged_parent"),
    sa.Index("ix_tagged_parent_id", "parent_id"),
)
"""


def test_mariadb_implicit_foreign_key_index_under_another_name_is_no_difference(project, run_checks):
    project(RENAMED, RENAMED_MODEL)
    result = run_checks(engines="mysql")
    assert_checks(result, "mysql", failed={f"{MODEL}[mysql]"})
    # child's index, still called parent_id, is MariaDB's own; the index the model declares on tagged,
    # which the migrations never create, is still a difference.
    assert failure_lines(result, f"{MODEL}[mysql]")[2:] == [
        "  tagged: index ix_tagged_parent_id on (parent_id) absent at head, present in the model"
    ]


@pytest.mark.parametrize("source", ["env.py", "ini"])
def test_empty_target_metadata_is_one_failure_that_says_where_to_import_the_models(
    project, run_checks, pytester, source
):
    table = 'op.create_table("author", sa.Column("id", sa.Integer(), primary_key=True))'
    ini = "migrations_metadata = models:metadata\n" if source == "ini" else ""
    project({"0001_author": revision("0001", None, table, 'op.drop_table("author")')}, "", pytest_ini=ini)
    result = run_checks()
    assert_checks(result, "sqlite", failed={f"{MODEL}[sqlite]"})
    origin = (
        "env.py's target_metadata"
        if source == "env.py"
        else "the metadata migrations_metadata (--migrations-metadata) names"
    )
    assert failure_lines(result, f"{MODEL}[sqlite]") == [
        f"{MODEL}[sqlite] failed:",
        f"{origin} holds no tables on sqlite, so there is no model to compare the migrations with: the modules "
        "that define the models were probably never imported. Import them where the metadata is defined or in "
        "env.py before target_metadata is set (e.g. `import myapp.models`), or name a metadata that has them "
        "with the migrations_metadata ini key (or --migrations-metadata).",
    ]


CITEXT = {
    "0001_account": revision(
        "0001",
        None,
        """
        op.execute("CREATE EXTENSION IF NOT EXISTS citext")
        op.create_table(
            "account",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("email", postgresql.CITEXT(), nullable=False),
        )
        """,
        """
        op.drop_table("account")
        op.execute("DROP EXTENSION citext")
        """,
    ).replace("from alembic import op\n", "from alembic import op\nfrom sqlalchemy.dialects import postgresql\n"),
}
CITEXT_MODEL = """
from sqlalchemy.dialects.postgresql import CITEXT

account = sa.Table(
    "account", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("email", CITEXT(), nullable=False),
)
"""


def test_postgresql_extension_a_revision_creates_is_in_the_models_database(project, run_checks):
    project(CITEXT, CITEXT_MODEL)
    result = run_checks(engines="postgresql")
    assert_checks(result, "postgresql")


PREPARED = """
import sqlalchemy as sa


def pytest_migrations_prepare_database(connection, engine):
    connection.execute(sa.text("CREATE TABLE legacy_users (id INTEGER PRIMARY KEY, login VARCHAR(40))"))
"""


def test_model_database_gets_the_prepare_hook(project, run_checks, pytester, engine):
    # A table an older system made, which the history and the model leave alone: on both databases or neither.
    project({"0001_author": revision("0001", None, f'op.create_table("author", {AUTHOR})', 'op.drop_table("author")')})
    (pytester.path / "models.py").write_text(models(f'author = sa.Table("author", metadata, {AUTHOR})\n'))
    (pytester.path / "migrations" / "env.py").write_text(env_with())
    (pytester.path / "conftest.py").write_text(PREPARED)
    result = run_checks(engines=engine)
    assert_checks(result, engine)


ENUMS = {
    "0001_post": revision(
        "0001",
        None,
        """
        op.create_table(
            "post",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("status", sa.Enum("draft", "published", "archived", name="status"), nullable=False),
        )
        """,
        'op.drop_table("post")',
    ),
}
ENUMS_MODEL = """
post = sa.Table(
    "post", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("status", sa.Enum("draft", "published", name="status"), nullable=False),
)
"""


def test_mysql_enum_values_are_shown_once(project, run_checks):
    project(ENUMS, ENUMS_MODEL)
    result = run_checks(engines="mysql")
    assert_checks(result, "mysql", failed={f"{MODEL}[mysql]"})
    assert failure_lines(result, f"{MODEL}[mysql]")[2:-1] == [
        "  post.status: type ENUM('draft','published','archived') at head, ENUM('draft','published') in the model"
    ]
    assert item_failure(result, f"{MODEL}[mysql]").count("'archived'") == 1


ENUM_VALUES_BY_HAND = (
    "Autogenerate does not write changes to an enum's values: write that migration by hand (PostgreSQL: "
    "op.execute(\"ALTER TYPE name ADD VALUE 'new'\"); MySQL/MariaDB: op.alter_column(table, column, "
    "type_=sa.Enum(...every value...)))."
)


def test_enum_values_the_model_changed_say_autogenerate_does_not_write_them(project, run_checks):
    # PostgreSQL: autogenerate does not compare a type's values, so `alembic check` passes and the model check
    # notes it; MySQL's ENUM is a column type, which autogenerate does compare: a failure, with the by-hand way.
    first = ENUMS["0001_post"].replace(
        'op.drop_table("post")',
        'op.drop_table("post")\n    sa.Enum(name="status").drop(op.get_bind(), checkfirst=True)',
    )
    project({"0001_post": first}, ENUMS_MODEL)
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES, failed={f"{MODEL}[mysql]"})  # SQLite: VARCHAR(9) both
    assert failure_lines(result, f"{MODEL}[mysql]")[-1] == ENUM_VALUES_BY_HAND
    result.stdout.fnmatch_lines(
        [
            "postgresql: *",
            "  note (test_model_matches_migrations): differences from the model that `alembic check` does not "
            "report (not failed; `migrations_model_strict = enum` makes them failures):",
            "      enum type status: values (draft, published, archived) at head, (draft, published) in the model",
            "    enum: autogenerate does not compare an enum type's values*",
        ]
    )


def test_enum_values_fail_where_the_project_asks_for_it(project, run_checks):
    first = ENUMS["0001_post"].replace(
        'op.drop_table("post")',
        'op.drop_table("post")\n    sa.Enum(name="status").drop(op.get_bind(), checkfirst=True)',
    )
    project({"0001_post": first}, ENUMS_MODEL, pytest_ini="migrations_model_strict = enum\n")
    result = run_checks(engines="postgresql")
    assert_checks(result, "postgresql", failed={f"{MODEL}[postgresql]"})
    assert failure_lines(result, f"{MODEL}[postgresql]")[2:] == [
        "  enum type status: values (draft, published, archived) at head, (draft, published) in the model",
        "enum: autogenerate does not compare an enum type's values; by hand: op.execute(\"ALTER TYPE name ADD VALUE "
        "'new'\")",
    ]


# A foreign key the model declares ON DELETE RESTRICT and the migrations leave at the default.
FOREIGN_KEY = {
    "0001_tables": revision(
        "0001",
        None,
        """
        op.create_table("parent", sa.Column("id", sa.Integer(), primary_key=True))
        op.create_table(
            "child",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("parent_id", sa.Integer(), sa.ForeignKey("parent.id"), nullable=True),
        )
        """,
        'op.drop_table("child")\nop.drop_table("parent")',
    )
}
RESTRICT_MODEL = """
parent = sa.Table("parent", metadata, sa.Column("id", sa.Integer(), primary_key=True))
child = sa.Table(
    "child", metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("parent_id", sa.Integer(), sa.ForeignKey("parent.id", ondelete="RESTRICT"), nullable=True),
)
"""


def test_on_delete_restrict_differs_from_the_default_except_on_mysql(project, run_checks, engine):
    """PostgreSQL and SQLite check NO ACTION at the end of a statement and RESTRICT at once; on MySQL/MariaDB
    they are one action, and the default."""
    project(FOREIGN_KEY, RESTRICT_MODEL)
    result = run_checks(engines=engine)
    if engine == "mysql":
        assert_checks(result, engine)
        return
    lines = failure_lines(result, f"{MODEL}[{engine}]")
    assert "  child: foreign key (parent_id) -> parent(id) ON DELETE RESTRICT absent at head, present in the model" in (
        lines
    ), lines


def test_a_unique_constraint_over_the_primary_key_reads_the_same_on_every_engine(project, run_checks):
    # create_all writes UNIQUE (id) beside PRIMARY KEY (id) on SQLite and MySQL, not on PostgreSQL: a migration
    # without it builds the same table, on every engine.
    project(
        {
            "0001_t": revision(
                "0001",
                None,
                'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))',
                'op.drop_table("t")',
            )
        },
        't = sa.Table("t", metadata, sa.Column("id", sa.Integer(), primary_key=True, unique=True))\n',
        configure="compare_server_default=True",
    )
    result = run_checks(engines=ALL_ENGINES)
    assert_checks(result, *ENGINES)
    assert "differences from the model" not in result.stdout.str()
