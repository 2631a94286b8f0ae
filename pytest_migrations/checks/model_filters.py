"""What the model check compares: env.py's autogenerate filters, applied to both databases.

An application keeps tables out of autogenerate on purpose (`include_object`, `include_name`,
`include_schemas` given to `context.configure`); the model check honours the same choices, or it
reports as differences the very objects the project decided not to manage. Both sides are real
databases here, so the filters see real SQLAlchemy objects: the model's own (not reflected) where
the metadata has them, objects built from the snapshot (reflected) where it does not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from pytest_migrations.schema import Snapshot, TableSchema, split_key

# The keys of context.configure that decide what autogenerate compares.
FILTER_OPTIONS = ("include_object", "include_name", "include_schemas")
COMPARE_OPTIONS = ("compare_type", "compare_server_default", "version_table", "version_table_schema")


@dataclass(frozen=True)
class ModelTarget:
    """The model to compare a bind with, and env.py's filters; `origin` names where the metadata came from."""

    metadata: Any  # a MetaData, or a list of them (Alembic takes a sequence)
    include_object: Callable[..., bool] | None = None
    include_name: Callable[..., bool] | None = None
    include_schemas: bool = False
    origin: str = "env.py's target_metadata"
    # compare_type, compare_server_default and the version table, as env.py gave them (checks.autogenerate).
    compare_options: tuple[tuple[str, Any], ...] = ()

    @property
    def metadatas(self) -> list[Any]:
        if self.metadata is None:
            return []
        return list(self.metadata) if isinstance(self.metadata, (list, tuple)) else [self.metadata]


def model_target(options: dict[str, Any]) -> ModelTarget:
    """What env.py passed to context.configure, as the model check needs it."""
    return ModelTarget(
        metadata=options.get("target_metadata"),
        include_object=options.get("include_object"),
        include_name=options.get("include_name"),
        include_schemas=bool(options.get("include_schemas")),
        compare_options=tuple((key, options[key]) for key in COMPARE_OPTIONS if key in options),
    )


@dataclass
class _Filter:
    """One comparison's filters, with the model's tables by snapshot key and scratch metadata per side."""

    target: ModelTarget
    tables: dict[str, Any]  # snapshot key -> the model's Table
    model_side: sa.MetaData
    head_side: sa.MetaData

    @property
    def any(self) -> bool:
        return self.target.include_object is not None or self.target.include_name is not None

    def name(self, name: str | None, type_: str, parents: dict[str, Any]) -> bool:
        if self.target.include_name is None:
            return True
        parents = dict(parents)
        if "schema_name" in parents:  # as Alembic adds it
            table = name if type_ == "table" else parents.get("table_name")
            if table:
                schema = parents["schema_name"]
                parents["schema_qualified_table_name"] = f"{schema}.{table}" if schema else table
        return bool(self.target.include_name(name, type_, parents))

    def object(self, obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if self.target.include_object is None:
            return True
        return bool(self.target.include_object(obj, name, type_, reflected, compare_to))

    def decide(self, name: str | None, type_: str, ours: Any, at_head: Any, in_model_db: Any) -> bool:
        """One decision for an object, whichever side has it: as autogenerate asks about the model's object
        (compared to the database's) or, when the model has none, about the database's."""
        if ours is not None:
            return self.object(ours, name, type_, False, at_head)
        return self.object(at_head if at_head is not None else in_model_db, name, type_, True, None)


def filtered(
    model: Snapshot, head: Snapshot, target: ModelTarget, default_schema: str | None
) -> tuple[Snapshot, Snapshot]:
    """Both snapshots with only what env.py's filters let autogenerate compare."""
    tables: dict[str, Any] = {}
    for metadata in target.metadatas:
        for table in metadata.tables.values():
            schema = None if table.schema in (None, default_schema) else table.schema
            tables[f"{schema}.{table.name}" if schema else table.name] = table
    check = _Filter(target, tables, sa.MetaData(), sa.MetaData())
    schemas = _schemas(check, model.schemas | head.schemas)
    kept_model, kept_head = dict(model.tables), dict(head.tables)
    for key in sorted(model.tables.keys() | head.tables.keys()):
        schema, name = split_key(key)
        mine, theirs = model.tables.get(key), head.tables.get(key)
        keep = schema in schemas and check.name(name, "table", {"schema_name": schema})
        if keep and check.target.include_object is not None:
            at_head = _table(check.head_side, theirs) if theirs is not None else None
            in_model_db = _table(check.model_side, mine) if mine is not None else None
            keep = check.decide(name, "table", tables.get(key), at_head, in_model_db)
        if not keep:
            kept_model.pop(key, None)
            kept_head.pop(key, None)
        elif mine is not None and theirs is not None:
            kept_model[key], kept_head[key] = _table_parts(check, key, mine, theirs)
    used = {col.type for table in (*kept_model.values(), *kept_head.values()) for col in table.columns}
    return _rest(model, kept_model, schemas, used), _rest(head, kept_head, schemas, used)


def _schemas(check: _Filter, named: frozenset[str]) -> set[str | None]:
    """The schemas compared: the default one (None), and with include_schemas the others include_name lets through."""
    candidates: set[str | None] = {None, *named} if check.target.include_schemas else {None}
    return {schema for schema in candidates if check.name(schema, "schema", {})}


def _rest(snapshot: Snapshot, tables: dict[str, TableSchema], schemas: set[str | None], used: set[str]) -> Snapshot:
    """The snapshot with the tables kept; enum types and sequences outside the compared schemas, and enum
    types only the left-out columns use, go with them."""

    def compared(key: str) -> bool:
        return split_key(key)[0] in schemas

    enums = {
        key: values
        for key, values in snapshot.enums.items()
        if compared(key) and (f"enum {split_key(key)[1]}" in used or not _used_by_left_out(snapshot, key, tables))
    }
    return replace(
        snapshot,
        tables=tables,
        enums=enums,
        sequences=frozenset(key for key in snapshot.sequences if compared(key)),
        schemas=frozenset(schema for schema in snapshot.schemas if schema in schemas),
    )


def _used_by_left_out(snapshot: Snapshot, key: str, kept: dict[str, TableSchema]) -> bool:
    wanted = f"enum {split_key(key)[1]}"
    for name, table in snapshot.tables.items():
        kept_columns = kept[name].column_map if name in kept else {}
        if any(col.type == wanted and col.name not in kept_columns for col in table.columns):
            return True
    return False


# (snapshot field, the `type_` autogenerate names it by, the objects of that kind on a Table)
_KINDS: tuple[tuple[str, str, Callable[[Any], list[Any]]], ...] = (
    ("indexes", "index", lambda table: list(table.indexes)),
    ("unique", "unique_constraint", lambda table: [c for c in table.constraints if isinstance(c, sa.UniqueConstraint)]),
    ("foreign_keys", "foreign_key_constraint", lambda table: list(table.foreign_key_constraints)),
)


def _table_parts(check: _Filter, key: str, mine: TableSchema, theirs: TableSchema) -> tuple[TableSchema, TableSchema]:
    """A table present on both sides: columns, indexes, unique constraints and foreign keys filtered, each
    decided once for both sides."""
    schema, name = split_key(key)
    meta = check.tables.get(key)
    parents = {"table_name": name, "schema_name": schema}
    declared = {str(index.name) for index in meta.indexes if index.name} if meta is not None else set()
    sides = (mine, theirs)
    # MySQL's implicit foreign key indexes are left aside, however named; an index the model declares is not.
    parts = [
        {
            "indexes": set(table.indexes) | {t for t in table.fk_indexes if table.parts[t][0] in declared},
            "unique": set(table.unique),
            "foreign_keys": set(table.foreign_keys),
        }
        for table in sides
    ]
    left_out: set[str] = set()
    if check.any:
        model_db, at_head = _table(check.model_side, mine), _table(check.head_side, theirs)
        for col in sorted(mine.column_map.keys() | theirs.column_map.keys()):
            keep = check.name(col, "column", parents)
            if keep and check.target.include_object is not None:
                ours = meta.c[col] if meta is not None and col in meta.c else None
                keep = check.decide(col, "column", ours, at_head.c.get(col), model_db.c.get(col))
            if not keep:
                left_out.add(col)
        for field_name, type_, of_table in _KINDS:
            _filter_kind(check, parts, sides, field_name, type_, of_table, meta, (model_db, at_head), parents)
    built = []
    for table, kept in zip(sides, parts, strict=True):
        if left_out:  # what spans a left-out column cannot be compared either
            for field_name in kept:
                kept[field_name] = {
                    t for t in kept[field_name] if not left_out & set(table.parts.get(t, (None, ()))[1])
                }
        built.append(
            replace(
                table,
                columns=tuple(col for col in table.columns if col.name not in left_out),
                **{field_name: frozenset(texts) for field_name, texts in kept.items()},
            )
        )
    return built[0], built[1]


def _filter_kind(
    check: _Filter,
    parts: list[dict[str, set[str]]],
    sides: tuple[TableSchema, TableSchema],
    field_name: str,
    type_: str,
    of_table: Callable[[Any], list[Any]],
    meta: Any,
    reflected: tuple[sa.Table, sa.Table],
    parents: dict[str, Any],
) -> None:
    """Indexes (known by name) or constraints (known by what they are): each decided once, removed from both sides."""
    found: dict[str | None, list[tuple[int, str]]] = {}
    for side, table in enumerate(sides):
        for text in list(parts[side][field_name]):
            name, _columns = table.parts.get(text, (None, ()))
            if name is not None and not check.name(name, type_, parents):
                parts[side][field_name].discard(text)
                continue
            found.setdefault(name if type_ == "index" else text, []).append((side, text))
    if check.target.include_object is None:
        return
    for where in found.values():
        objects: list[Any] = [None, None]
        for side, text in where:
            name, columns = sides[side].parts.get(text, (None, ()))
            objects[side] = _reflected_object(reflected[side], of_table, type_, name, columns, sides[side])
        side, text = where[-1]  # the head's, when it has one
        name, columns = sides[side].parts.get(text, (None, ()))
        ours = _matching(of_table(meta), name, columns) if meta is not None else None
        if not check.decide(name, type_, ours, objects[1], objects[0]):
            for side, text in where:
                parts[side][field_name].discard(text)


def _matching(objects: list[Any], name: str | None, columns: tuple[str, ...]) -> Any:
    """The index or constraint an object of the database stands for: by name, else by its columns."""
    for obj in objects:
        if name is not None and obj.name is not None and str(obj.name) == name:
            return obj
    for obj in objects:
        if tuple(c.name for c in obj.columns) == columns:
            return obj
    return None


def _table(scratch: sa.MetaData, table: TableSchema) -> sa.Table:
    """A SQLAlchemy Table for a snapshot's table, as autogenerate would have reflected it; built once per side."""
    schema, name = split_key(table.name)
    if table.name in scratch.tables:
        return scratch.tables[table.name]
    columns = [
        sa.Column(
            col.name,
            table.types.get(col.name, sa.types.NullType()),
            nullable=col.nullable,
            server_default=sa.text(col.default) if col.default is not None else None,
            primary_key=col.name in table.primary_key,
        )
        for col in table.columns
    ]
    return sa.Table(name, scratch, *columns, schema=schema)


def _reflected_object(
    reflected: sa.Table,
    of_table: Callable[[Any], list[Any]],
    type_: str,
    name: str | None,
    columns: tuple[str, ...],
    table: TableSchema,
) -> Any:
    """An Index, UniqueConstraint or ForeignKeyConstraint on `reflected`, as the database describes it."""
    found = _matching(of_table(reflected), name, columns)
    if found is not None:
        return found
    if type_ == "index":
        unique = any(text.startswith("unique ") and table.parts[text][0] == name for text in table.parts)
        exprs = [reflected.c[c] if c in reflected.c else sa.literal_column(c) for c in columns]
        return sa.Index(name, *exprs, unique=unique, _table=reflected)
    if type_ == "unique_constraint":
        constraint: Any = sa.UniqueConstraint(*columns, name=name)
    else:
        referred = next((link for link in table.links if link[0] == columns), (columns, "", columns))
        constraint = sa.ForeignKeyConstraint(list(columns), [f"{referred[1]}.{c}" for c in referred[2]], name=name)
    reflected.append_constraint(constraint)
    return constraint
