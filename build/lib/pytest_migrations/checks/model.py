"""The model check: what metadata.create_all builds, on a throwaway database of its own, against the head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from pytest_migrations import compat
from pytest_migrations import schema as schemas
from pytest_migrations.checks.verdicts import CheckOptions, Verdict
from pytest_migrations.providers import Server
from pytest_migrations.walk import (
    describe_error,
)


@dataclass
class ModelBuild:
    """What metadata.create_all builds on a throwaway database of its own, or why it could not."""

    snapshot: schemas.Snapshot | None = None
    error: str | None = None


def model_metadata(given: Any, bind: str | None, found: Any) -> Any:
    """The metadata to compare a bind with: the one the user named, else the one env.py passes."""
    return given if given is not None and bind in (None, "") else found


def _schemas_named(metadatas: list[Any]) -> list[str]:
    """PostgreSQL schemas a model's tables, or the enum types of its columns, live in."""
    named = set()
    for item in metadatas:
        for table in item.tables.values():
            named.add(table.schema)
            named.update(getattr(column.type, "schema", None) for column in table.columns)
    return sorted(schema for schema in named if isinstance(schema, str) and schema)


def create_model(conn: sa.Connection, metadatas: list[Any]) -> None:
    """metadata.create_all, with the PostgreSQL schemas the model names made first."""
    if conn.dialect.name == "postgresql":  # create_all expects the schemas it names to exist
        for schema in _schemas_named(metadatas):
            conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
    for item in metadatas:
        item.create_all(conn)


def build_model(server: Server, metadata: Any) -> ModelBuild:
    """Snapshot what metadata.create_all builds on a fresh database (runs in a thread beside the walk)."""
    metadatas = metadata if isinstance(metadata, (list, tuple)) else [metadata]
    elsewhere = sorted({f"{t.schema}.{t.name}" for item in metadatas for t in item.tables.values() if t.schema})
    if elsewhere and server.engine != "postgresql":
        # On MySQL a schema is another database, on SQLite an attached file: neither is ours to write.
        return ModelBuild(
            error=f"the model's tables {', '.join(elsewhere)} name a schema, which on {server.engine} is another "
            "database than the throwaway one, and pytest-migrations only writes to databases it created; "
            "compare this model on postgresql, or leave this engine out of the model check's matrix."
        )
    database = server.next_database()
    try:
        engine = compat.create_engine(database.url, poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as conn:
                create_model(conn, metadatas)
            with engine.connect() as conn:
                return ModelBuild(snapshot=schemas.SchemaReader().snapshot(conn))
        except sa.exc.SQLAlchemyError as exc:
            return ModelBuild(
                error=f"metadata.create_all fails on {server.engine}, so the model cannot be compared: "
                + describe_error(exc)
            )
        finally:
            engine.dispose()
    finally:
        database.drop()


def model_verdict(
    verdict: Verdict,
    head: schemas.Snapshot | None,
    wanted: bool,
    build: ModelBuild | None,
    bind: str | None,
    options: CheckOptions,
    blocked: str | None,
    flask: bool = False,
) -> None:
    on = "" if bind is None else f" [bind {bind or 'default'}]"
    autogenerate = 'flask db migrate -m "..."' if flask else 'alembic revision --autogenerate -m "..."'
    if verdict.problems:
        return  # the walk never got far enough (env.py failed, or an upgrade did): that is the verdict
    if not wanted:
        verdict.skip_reason = (
            "no target metadata: env.py passes target_metadata=None and neither --migrations-metadata "
            "nor the migrations_metadata ini key names one"
        )
        return
    if head is None or build is None:
        verdict.problem(blocked or "not checked: the walk never reached head.")
        return
    if build.snapshot is None:
        verdict.problem(build.error or "the model could not be built.")
        return
    lines = [
        d.text
        for d in schemas.diff(build.snapshot, head, "in the model", "at head")
        if not schemas.ignored(d, options.ignore_rules)
    ]
    if lines:
        verdict.problem(
            f"the schema the migrations build{on} differs from what metadata.create_all builds "
            f"(add a migration, e.g. `{autogenerate}`, or fix the model):\n  " + "\n  ".join(lines)
        )
