"""Two snapshots compared: the differences a user reads, and the ignore rules that silence some."""

from __future__ import annotations

from pytest_migrations.schema.snapshot import KINDS, Difference, Snapshot


def _show(value: str | None, none: str = "none") -> str:
    return none if value is None else value


def diff(before: Snapshot, after: Snapshot, before_label: str, after_label: str) -> list[Difference]:
    """Differences read as `<where>: <what> <after_label>, <what> <before_label>`."""
    out: list[Difference] = []

    def add(kind: str, table: str | None, column: str | None, where: str, now: str, then: str) -> None:
        out.append(Difference(kind, table, column, f"{where}: {now} {after_label}, {then} {before_label}"))

    for name in sorted(before.tables.keys() | after.tables.keys()):
        old, new = before.tables.get(name), after.tables.get(name)
        if old is None or new is None:
            add("table", name, None, f"table {name}", "present" if new else "absent", "present" if old else "absent")
            continue
        old_cols, new_cols = old.column_map, new.column_map
        for col in sorted(old_cols.keys() | new_cols.keys()):
            a, b = old_cols.get(col), new_cols.get(col)
            where = f"{name}.{col}"
            if a is None or b is None:
                add("column", name, col, where, "present" if b else "absent", "present" if a else "absent")
                continue
            if a.type != b.type:
                add("type", name, col, where, f"type {b.type}", a.type)
            if a.nullable != b.nullable:
                add("nullable", name, col, where, _nullability(b.nullable), _nullability(a.nullable))
            if a.default != b.default:
                add("server_default", name, col, where, f"server default {_show(b.default)}", _show(a.default))
        if old.primary_key != new.primary_key:
            add(
                "primary_key",
                name,
                None,
                name,
                f"primary key ({', '.join(new.primary_key)})",
                f"({', '.join(old.primary_key)})",
            )
        for kind, label, olds, news in (
            ("foreign_key", "foreign key", old.foreign_keys, new.foreign_keys),
            ("unique", "unique constraint", old.unique, new.unique),
            ("index", "", old.indexes, new.indexes),
            ("check", "check constraint", old.checks, new.checks),
        ):
            for item in sorted(olds ^ news):
                text = f"{label} {item}".strip()
                add(
                    kind,
                    name,
                    None,
                    name,
                    f"{text} {'present' if item in news else 'absent'}",
                    "present" if item in olds else "absent",
                )
    for enum in sorted(before.enums.keys() | after.enums.keys()):
        old_vals, new_vals = before.enums.get(enum), after.enums.get(enum)
        if old_vals != new_vals:
            add(
                "enum",
                enum,  # ignore rules name it where they name a table: enum:status
                None,
                f"enum type {enum}",
                "absent" if new_vals is None else "values (" + ", ".join(new_vals) + ")",
                "absent" if old_vals is None else "(" + ", ".join(old_vals) + ")",
            )
    for kind, olds, news in (
        ("schema", before.schemas, after.schemas),
        ("sequence", before.sequences, after.sequences),
    ):
        for name in sorted(olds ^ news):
            # Named where a table would be, so ignore rules take schema:audit like a table.
            add(kind, name, None, f"{kind} {name}", _presence(name, news), _presence(name, olds))
    return out


def _presence(name: str, names: frozenset[str]) -> str:
    return "present" if name in names else "absent"


def _nullability(nullable: bool) -> str:
    return "nullable" if nullable else "NOT NULL"


def check_ignore_rule(rule: str) -> None:
    """Raise ValueError for a rule whose kind is misspelt, which would otherwise silence nothing, silently."""
    kind, colon, target = rule.partition(":")
    if colon and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r} in {rule!r}; the kinds are {', '.join(KINDS)}")
    if colon and not target:
        raise ValueError(f"{rule!r} names no table after the colon; write {kind} alone to ignore it everywhere")


def ignored(difference: Difference, rules: tuple[str, ...]) -> bool:
    """Rules: TABLE, TABLE.COLUMN, KIND, or KIND:TABLE[.COLUMN]; `*` matches any table."""
    for rule in rules:
        kind, _, target = rule.partition(":") if ":" in rule else ("", "", rule)
        if not kind and target in KINDS:
            kind, target = target, "*"
        if kind and kind != difference.kind:
            continue
        if target in ("*", difference.table):  # a table (schema.table outside the default schema)
            return True
        table, _, column = target.rpartition(".")
        if table in ("*", difference.table) and column in ("*", difference.column):
            return True
    return False
