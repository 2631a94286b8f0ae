"""What `alembic check` would say at head: Alembic's own autogenerate comparison, run on the walk's database.

The model check compares two real databases (the migrations' head and metadata.create_all's build) and
sees more than autogenerate does: server defaults when env.py leaves compare_server_default off, CHECK
constraints, primary key order, an index's WHERE clause. A difference autogenerate would not write a
migration for is told as a note, so the check fails exactly where `alembic check` (or `flask db check`)
fails, unless the project asks for more with migrations_model_strict.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from pytest_migrations.checks.model_filters import ModelTarget
from pytest_migrations.schema import Difference

Key = tuple[str, "str | None", "str | None"]  # (kind, table key, column) as schema.Difference names them


@dataclass(frozen=True)
class AutogenerateView:
    """The differences autogenerate reports at head, by the kinds the snapshot diff uses; or why it could not tell."""

    reported: frozenset[Key] = frozenset()
    error: str | None = None

    def reports(self, difference: Difference) -> bool:
        """Whether `alembic revision --autogenerate` would write something for this difference."""
        if self.error is not None:
            return True  # no oracle: every difference stands, as before
        kind = "index" if difference.kind == "unique" else difference.kind
        if kind in ("index", "foreign_key"):
            return (kind, difference.table, None) in self.reported
        return (kind, difference.table, difference.column) in self.reported


def autogenerate_view(conn: sa.Connection, target: ModelTarget, default_schema: str | None) -> AutogenerateView:
    """Run autogenerate's comparison of `target` with what `conn` holds, with env.py's own options."""
    opts: dict[str, Any] = {"target_metadata": target.metadata}
    opts.update(dict(target.compare_options))
    for name in ("include_object", "include_name"):
        if getattr(target, name) is not None:
            opts[name] = getattr(target, name)
    if target.include_schemas:
        opts["include_schemas"] = True
    try:
        context = MigrationContext.configure(connection=conn, opts=opts)
        with warnings.catch_warnings():  # reflection's own ("Skipped unsupported reflection of expression-based index")
            warnings.simplefilter("ignore")
            found = compare_metadata(context, target.metadata)
    except Exception as exc:
        return AutogenerateView(error=f"{type(exc).__name__}: {exc}")
    return AutogenerateView(reported=frozenset(_keys(found, default_schema)))


def _keys(found: Iterable[Any], default_schema: str | None) -> Iterable[Key]:
    for item in found:
        if isinstance(item, list):  # modify_* ops come grouped per column
            yield from _keys(item, default_schema)
            continue
        op = item[0]
        if op in ("add_table", "remove_table"):
            yield ("table", _table_key(item[1].schema, item[1].name, default_schema), None)
        elif op in ("add_column", "remove_column"):
            yield ("column", _table_key(item[1], item[2], default_schema), item[3].name)
        elif op.startswith("modify_") and op != "modify_comment" and len(item) > 3:
            kind = {"modify_type": "type", "modify_nullable": "nullable", "modify_default": "server_default"}.get(op)
            if kind:
                yield (kind, _table_key(item[1], item[2], default_schema), item[3])
        elif op in ("add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"):
            table = item[1].table
            kind = "foreign_key" if op.endswith("_fk") else "index"
            yield (kind, _table_key(table.schema, table.name, default_schema), None)


def _table_key(schema: str | None, name: str, default_schema: str | None) -> str:
    return name if schema in (None, "", default_schema) else f"{schema}.{name}"
