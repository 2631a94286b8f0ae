"""The model check: what metadata.create_all builds, on a throwaway database of its own, against the head."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from pytest_migrations import compat
from pytest_migrations import schema as schemas
from pytest_migrations.checks.autogenerate import AutogenerateView
from pytest_migrations.checks.model_filters import ModelTarget, filtered
from pytest_migrations.checks.verdicts import CheckOptions, Verdict
from pytest_migrations.providers import Server
from pytest_migrations.walk import PrepareFailed, Preparer, describe_error, fresh_database


@dataclass
class ModelBuild:
    """What metadata.create_all builds on a throwaway database of its own, or why it could not.

    Holds what it was built from, so it can be built again with the extensions the head turns out to have.
    """

    target: ModelTarget
    server: Server
    prepare: Preparer | None = None
    snapshot: schemas.Snapshot | None = None
    error: str | None = None
    extensions: frozenset[str] = frozenset()  # PostgreSQL: those the model's database had before create_all
    default_schema: str | None = None  # set once the model's database was reached


def model_metadata(given: Any, bind: str | None, found: Any) -> Any:
    """The metadata to compare a bind with: the one the user named, else the one env.py passes."""
    return given if given is not None and bind in (None, "") else found


def model_target_for(given: Any, bind: str | None, found: ModelTarget) -> ModelTarget | None:
    """The model to compare a bind with (see model_metadata), with env.py's filters either way; None when
    there is no metadata."""
    if given is not None and bind in (None, ""):
        found = replace(found, metadata=given, origin="the metadata migrations_metadata (--migrations-metadata) names")
    return found if found.metadata is not None else None


def _metadatas(models: list[Any]) -> list[Any]:
    """MetaData objects, whether given bare or inside a ModelTarget."""
    found = []
    for item in models:
        found.extend(item.metadatas if isinstance(item, ModelTarget) else [item])
    return found


def _schemas_named(metadatas: list[Any]) -> list[str]:
    """PostgreSQL schemas a model's tables, or the enum types of its columns, live in."""
    named = set()
    for item in metadatas:
        for table in item.tables.values():
            named.add(table.schema)
            named.update(getattr(column.type, "schema", None) for column in table.columns)
    return sorted(schema for schema in named if isinstance(schema, str) and schema)


def create_model(conn: sa.Connection, models: list[Any]) -> None:
    """metadata.create_all, with the PostgreSQL schemas the model names made first."""
    metadatas = _metadatas(models)
    if conn.dialect.name == "postgresql":  # create_all expects the schemas it names to exist
        for schema in _schemas_named(metadatas):
            compat.create_schema_if_missing(conn, schema)
    for item in metadatas:
        item.create_all(conn)


def no_tables(target: ModelTarget, engine: str) -> str:
    """An empty target metadata: the model check's one failure, instead of a diff that drops every table."""
    return (
        f"{target.origin} holds no tables on {engine}, so there is no model to compare the migrations with: the "
        "modules that define the models were probably never imported. Import them where the metadata is "
        "defined or in env.py before target_metadata is set (e.g. `import myapp.models`), or name a metadata "
        "that has them with the migrations_metadata ini key (or --migrations-metadata)."
    )


_EXTENSIONS = sa.text("SELECT extname FROM pg_extension")


def build_model(
    server: Server, target: ModelTarget, prepare: Preparer | None = None, extensions: tuple[tuple[str, str], ...] = ()
) -> ModelBuild:
    """Snapshot what metadata.create_all builds on a fresh database (runs in a thread beside the walk).

    The database gets what the walk's got before its first migration (the prepare hook), and on
    PostgreSQL the `extensions` (name, schema) the migrations created: a model may use their types.
    """
    build = ModelBuild(target=target, server=server, prepare=prepare)
    metadatas = target.metadatas
    if not any(item.tables for item in metadatas):
        build.error = no_tables(target, server.engine)
        return build
    elsewhere = sorted({f"{t.schema}.{t.name}" for item in metadatas for t in item.tables.values() if t.schema})
    if elsewhere and server.engine != "postgresql":
        # On MySQL a schema is another database, on SQLite an attached file: neither is ours to write.
        build.error = (
            f"the model's tables {', '.join(elsewhere)} name a schema, which on {server.engine} is another "
            "database than the throwaway one, and pytest-migrations only writes to databases it created; "
            "compare this model on postgresql, or leave this engine out of the model check's matrix."
        )
        return build
    try:
        database = fresh_database(server, prepare)
    except PrepareFailed as exc:
        build.error = str(exc)
        return build
    try:
        engine = compat.create_engine(database.url, poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as conn:
                build.default_schema = conn.dialect.default_schema_name
                if conn.dialect.name == "postgresql":
                    _create_extensions(conn, extensions)
                    build.extensions = frozenset(conn.execute(_EXTENSIONS).scalars())
            with engine.begin() as conn:
                if prepare is not None:
                    _drop_model_tables(conn, metadatas)
                create_model(conn, [target])
            with engine.connect() as conn:
                build.snapshot = schemas.SchemaReader().snapshot(conn)
        except sa.exc.SQLAlchemyError as exc:
            build.error = (
                f"metadata.create_all fails on {server.engine}, so the model cannot be compared: " + describe_error(exc)
            )
        finally:
            engine.dispose()
    finally:
        database.drop()
    return build


def _create_extensions(conn: sa.Connection, extensions: tuple[tuple[str, str], ...]) -> None:
    """CREATE EXTENSION for each (name, schema) the database lacks, in the schema the head has it in."""
    quote = conn.dialect.identifier_preparer.quote
    present = set(conn.execute(_EXTENSIONS).scalars())
    for name, schema in extensions:
        if name in present:
            continue
        compat.create_schema_if_missing(conn, schema)
        conn.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS {quote(name)} WITH SCHEMA {quote(schema)} CASCADE")
        present = set(conn.execute(_EXTENSIONS).scalars())  # CASCADE may have brought others along


def _drop_model_tables(conn: sa.Connection, metadatas: list[Any]) -> None:
    """Drop the tables the prepare hook made that the model describes: those are the model's to build.

    The hook's other objects (tables the model does not describe, types, functions) stay, as on the walk's
    database; the model's tables come from create_all, or the check would compare the hook's with the head.
    """
    inspector = sa.inspect(conn)
    made = [
        table
        for item in metadatas
        for table in reversed(item.sorted_tables)
        if inspector.has_table(table.name, schema=table.schema)
    ]
    if not made:
        return
    name = conn.dialect.name
    if name in ("mysql", "mariadb"):
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
    for table in made:
        cascade = " CASCADE" if name == "postgresql" else ""
        conn.exec_driver_sql(f"DROP TABLE {conn.dialect.identifier_preparer.format_table(table)}{cascade}")
    if name in ("mysql", "mariadb"):
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")


def with_head_extensions(build: ModelBuild, head: schemas.Snapshot) -> ModelBuild:
    """The model built again when the head has PostgreSQL extensions its database lacked (the build runs
    beside the walk, before the head is known; most histories create none, and pay nothing)."""
    if build.default_schema is None:  # it never reached a database (no tables, a schema elsewhere)
        return build
    if not {name for name, _schema in head.extensions} - build.extensions:
        return build
    return build_model(build.server, build.target, build.prepare, head.extensions)


def model_verdict(
    verdict: Verdict,
    head: schemas.Snapshot | None,
    wanted: bool,
    build: ModelBuild | None,
    bind: str | None,
    options: CheckOptions,
    blocked: str | None,
    flask: bool = False,
    view: AutogenerateView | None = None,
) -> None:
    on = "" if bind is None else f" [bind {bind or 'default'}]"
    autogenerate = 'flask db migrate -m "..."' if flask else 'alembic revision --autogenerate -m "..."'
    if not wanted:
        verdict.skip_reason = (
            "no target metadata: env.py passes target_metadata=None and neither --migrations-metadata "
            "nor the migrations_metadata ini key names one"
        )
        return
    if head is None or build is None:
        verdict.problem(blocked or "not checked: the walk never reached head.")
        return
    build = with_head_extensions(build, head)
    if build.snapshot is None:
        verdict.problem(build.error or "the model could not be built.")
        return
    model, at_head = filtered(build.snapshot, head, build.target, build.default_schema)
    differences = [
        d
        for d in schemas.diff(model, at_head, "in the model", "at head")
        if not schemas.ignored(d, options.ignore_rules)
    ]
    view = view or AutogenerateView()
    reported = [d for d in differences if view.reports(d)]
    by_hand = [d for d in differences if not view.reports(d) and d.kind in options.model_strict]
    unreported = [d for d in differences if not view.reports(d) and d.kind not in options.model_strict]
    enums = any(_enum_values_differ(d, model, at_head) for d in reported)
    parts = []
    if reported:
        parts.append(
            f"the schema the migrations build{on} differs from what metadata.create_all builds "
            f"(add a migration, e.g. `{autogenerate}`, or fix the model):\n  " + "\n  ".join(d.text for d in reported)
        )
    if by_hand:
        parts.append(
            f"the schema the migrations build{on} differs from what metadata.create_all builds in ways autogenerate "
            "does not write, and migrations_model_strict makes them failures (write that migration by hand, or fix "
            "the model):\n  " + "\n  ".join(d.text for d in by_hand) + _by_hand_hints(by_hand, view)
        )
    if parts:
        verdict.problem("\n".join(parts) + (ENUM_VALUES_BY_HAND if enums else ""))
    if unreported:
        kinds = " ".join(sorted({d.kind for d in unreported}))
        verdict.note(
            f"differences from the model{on} that `alembic check` does not report (not failed; "
            f"`migrations_model_strict = {kinds}` makes them failures):\n  "
            + "\n  ".join(d.text for d in unreported)
            + _by_hand_hints(unreported, view)
        )


# Why autogenerate does not write a difference of each kind, and how to write it, or make the model say it.
_BY_HAND = {
    "server_default": "autogenerate compares server defaults only when env.py's context.configure has "
    "compare_server_default=True; by hand: op.alter_column(table, column, server_default=...)",
    "primary_key": "autogenerate does not compare primary keys; by hand: op.drop_constraint(...) and "
    "op.create_primary_key(...), or declare the model's key columns in the table's order",
    "check": "autogenerate does not compare CHECK constraints; by hand: op.create_check_constraint(...) or "
    "op.drop_constraint(..., type_='check')",
    "type": "autogenerate's type comparison does not flag this one (it compares a type's arguments only when both "
    "sides give them); by hand: op.alter_column(table, column, type_=...), or give the model's column the "
    "table's type",
    "index": "autogenerate compares an index's name, columns and uniqueness, not its expressions, WHERE clause or "
    "method; by hand: op.drop_index(...) and op.create_index(..., postgresql_where=..., sqlite_where=...)",
    "unique": "autogenerate does not report this unique constraint; by hand: op.create_unique_constraint(...)",
    "foreign_key": "autogenerate does not report this foreign key; by hand: op.create_foreign_key(...)",
    "enum": "autogenerate does not compare an enum type's values; by hand: op.execute(\"ALTER TYPE name ADD VALUE "
    "'new'\")",
    "sequence": "autogenerate does not compare free sequences; by hand: op.execute('CREATE SEQUENCE ...')",
    "schema": "autogenerate does not create schemas; by hand: op.execute('CREATE SCHEMA ...')",
}


def _by_hand_hints(differences: list[schemas.Difference], view: AutogenerateView) -> str:
    kinds = sorted({d.kind for d in differences})
    hints = [f"{kind}: {_BY_HAND[kind]}" for kind in kinds if kind in _BY_HAND]
    if view.error:
        hints.append(f"(autogenerate's own comparison failed, so every difference is told: {view.error})")
    return "".join("\n" + hint for hint in hints)


ENUM_VALUES_BY_HAND = (
    "\nAutogenerate does not write changes to an enum's values: write that migration by hand (PostgreSQL: "
    "op.execute(\"ALTER TYPE name ADD VALUE 'new'\"); MySQL/MariaDB: op.alter_column(table, column, "
    "type_=sa.Enum(...every value...)))."
)


def _enum_values_differ(d: schemas.Difference, model: schemas.Snapshot, at_head: schemas.Snapshot) -> bool:
    """A native enum whose values differ: PostgreSQL's type, or MySQL's ENUM column type."""
    if d.kind == "enum":
        return model.enums.get(d.table) is not None and at_head.enums.get(d.table) is not None
    if d.kind == "type" and d.table in model.tables and d.table in at_head.tables:
        types = (model.tables[d.table].column_map[d.column].type, at_head.tables[d.table].column_map[d.column].type)
        return all(t.upper().startswith("ENUM(") for t in types)
    return False
