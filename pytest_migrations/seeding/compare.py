"""Contents before and after a step compared: the rows and values a migration lost."""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from typing import Any

from pytest_migrations.seeding.read import TableRows


def _fmt(value: Any) -> str:
    if value is None:
        return "NULL"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..." + ("'" if isinstance(value, str) else "")


def _text_of(value: Any) -> str:
    return "NULL" if value is None else repr(value) if isinstance(value, str) else str(value)


def _changed(before: Any, after: Any, width: int = 40) -> str:
    """`before -> after`, each cut to a window around the first character where they differ, so that two
    long values never print the same."""
    old, new = _text_of(before), _text_of(after)
    if (len(old) <= width and len(new) <= width) or old == new:
        return f"{_fmt(before)} -> {_fmt(after)}"
    at = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    start = max(0, at - width // 3)
    return f"{_window(old, start, width)} -> {_window(new, start, width)}"


def _window(text: str, start: int, width: int) -> str:
    end = start + width
    return ("..." if start > 0 else "") + text[start:end] + ("..." if end < len(text) else "")


@dataclass(frozen=True)
class RowKey:
    """A row of a table without a primary key, known by its values: the n-th of the rows holding them.

    Such a table is a multiset: deleting two of three equal rows loses two rows, and nothing else.
    """

    values: tuple[Any, ...]
    n: int
    shown: str = field(compare=False, default="")


def by_content(table: TableRows, columns: tuple[str, ...]) -> dict[Any, dict[str, Any]]:
    """A keyless table's rows keyed by their values in `columns` (the columns both sides have)."""
    seen: dict[tuple[Any, ...], int] = {}
    out: dict[Any, dict[str, Any]] = {}
    for row in table.rows.values():
        values = tuple(_canonical(row.get(c)) for c in columns)
        n = seen[values] = seen.get(values, -1) + 1
        shown = "row (" + ", ".join(f"{c}={_fmt(row.get(c))}" for c in columns) + ")"
        out[RowKey(values, n, shown)] = row
    return out


def _canonical(value: Any) -> Any:
    """One form for the values _same calls equal (1, 1.0, Decimal("1.00"), True)."""
    if isinstance(value, (int, float, decimal.Decimal)):
        try:
            return ("number", _exact(value).normalize())
        except (decimal.InvalidOperation, ValueError):
            return ("float", repr(value))
    return value if isinstance(value, (str, bytes, type(None))) else repr(value)


def matched(old: TableRows, new: TableRows) -> tuple[dict[Any, dict[str, Any]], dict[Any, dict[str, Any]]]:
    """Both sides' rows under keys that match a row before to the same row after: the primary key where it
    survived, the values of the common columns for a table without one, else the position."""
    if old.key_columns and set(old.key_columns) <= set(new.columns):
        return old.rows, {tuple(row.get(c) for c in old.key_columns): row for row in new.rows.values()}
    if not old.key_columns:
        common = tuple(c for c in old.columns if c in new.columns)
        return by_content(old, common), by_content(new, common)
    return old.rows, dict(new.rows)


def replaced_keys(
    old: TableRows, new: TableRows, lost: list[Any], old_rows: dict[Any, dict[str, Any]], new_rows: dict[Any, Any]
) -> list[tuple[Any, Any]]:
    """Lost rows that are still there under another primary key: (old key, new key) pairs.

    A row matches a new row whose key no old row has, by the values of the other columns both sides
    have (integer ids that became UUIDs, or were numbered afresh): its key was replaced, not the row lost.
    """
    if not old.key_columns or not lost:
        return []
    common = tuple(c for c in old.columns if c in new.columns and c not in old.key_columns)
    if not common:
        return []
    fresh: dict[tuple[Any, ...], list[Any]] = {}
    for key, row in new_rows.items():
        if key not in old_rows:
            fresh.setdefault(tuple(_canonical(row.get(c)) for c in common), []).append(key)
    pairs = []
    for key in lost:
        candidates = fresh.get(tuple(_canonical(old_rows[key].get(c)) for c in common))
        if candidates:
            pairs.append((key, candidates.pop(0)))
    return pairs


def _missing(
    label: str,
    name: str,
    old: TableRows,
    new: TableRows,
    old_rows: dict[Any, dict[str, Any]],
    new_rows: dict[Any, Any],
    verb: str,
) -> list[str]:
    """The rows of `old_rows` not in `new_rows`: those still there under another key (told with `verb`,
    "replaced" or "did not restore"), then those lost."""
    missing = [k for k in old_rows if k not in new_rows]
    pairs = replaced_keys(old, new, missing, old_rows, new_rows)
    moved = {key for key, _new in pairs}
    missing = [k for k in missing if k not in moved]
    return ([_replaced_text(label, name, old, pairs, verb)] if pairs else []) + (
        [_lost_text(label, name, old, missing)] if missing else []
    )


def _lost_text(label: str, name: str, old: TableRows, lost: list[Any]) -> str:
    return f"{label} lost {len(lost)} of {len(old.rows)} rows of {name}: {_key_text(old, lost[0])}"


def _replaced_text(label: str, name: str, old: TableRows, pairs: list[tuple[Any, Any]], verb: str) -> str:
    first_old, first_new = pairs[0]
    return (
        f"{label} {verb} the primary key values of {len(pairs)} of {len(old.rows)} rows of {name}: "
        f"{_key_text(old, first_old)} -> {_key_text(old, first_new)}"
    )


def _key_text(table: TableRows, key: Any) -> str:
    if isinstance(key, RowKey):
        return key.shown
    if not table.key_columns:
        return f"row {key[0] + 1}"
    return ", ".join(f"{col}={_fmt(val)}" for col, val in zip(table.key_columns, key, strict=False))


def losses_after_upgrade(
    before: dict[str, TableRows], after: dict[str, TableRows | None], label: str
) -> list[tuple[str, str]]:
    """(table, text) for rows or non-NULL values that went away. Changed values are the migration's business."""
    out: list[tuple[str, str]] = []
    appeared = {name: rows for name, rows in after.items() if rows is not None and name not in before}
    for name, old in sorted(before.items()):
        if name not in after:
            continue
        new = after[name]
        if new is None:
            if old.rows and not _renamed(old, appeared):
                out.append((name, f"{label} dropped table {name} holding {len(old.rows)} rows"))
            continue
        if old.key_columns and not set(old.key_columns) <= set(new.columns):
            lost = list(old.rows)[len(new.rows) :] if len(new.rows) < len(old.rows) else []
            if lost:
                out.append((name, _lost_text(label, name, old, lost)))
        else:
            old_rows, present = matched(old, new)
            out.extend((name, text) for text in _missing(label, name, old, new, old_rows, present, "replaced"))
        for col in old.columns:
            if col in new.columns:
                continue
            holding = [k for k, row in old.rows.items() if row.get(col) is not None]
            if holding and not _column_renamed(old, new, col):
                out.append(
                    (
                        name,
                        f"{label} dropped column {name}.{col} holding values in {len(holding)} of {len(old.rows)} rows: "
                        f"{_key_text(old, holding[0])} {_fmt(old.rows[holding[0]][col])}",
                    )
                )
    return out


def _renamed(old: TableRows, appeared: dict[str, TableRows]) -> bool:
    values = sorted(repr(sorted(r.items())) for r in old.rows.values())
    return any(sorted(repr(sorted(r.items())) for r in new.rows.values()) == values for new in appeared.values())


def _column_renamed(old: TableRows, new: TableRows, col: str) -> bool:
    """A dropped column whose every value now sits in a column that was not there before."""
    newcomers = [c for c in new.columns if c not in old.columns]
    by_key = {tuple(row.get(c) for c in old.key_columns): row for row in new.rows.values()} if old.key_columns else {}
    for candidate in newcomers:
        if by_key and all(by_key.get(k, {}).get(candidate) == row.get(col) for k, row in old.rows.items()):
            return True
    return False


def losses_after_downgrade(
    before: dict[str, TableRows],
    after: dict[str, TableRows | None],
    label: str,
    after_upgrade: dict[str, TableRows | None] | None = None,
    upgrade_label: str = "",
) -> list[tuple[str, str]]:
    """(table, text): after a downgrade every row and value recorded before the upgrade must be back exactly.

    A value the upgrade changed in a column it kept, and the downgrade left as the upgrade made it,
    is the upgrade's doing: given the rows `after_upgrade`, that change is reported under
    `upgrade_label`, not blamed on the downgrade that merely did not undo it.
    """
    out: list[tuple[str, str]] = []
    for name, old in sorted(before.items()):
        if name not in after:
            continue
        new = after[name]
        if new is None:
            out.append((name, f"{label} lost table {name} ({len(old.rows)} rows)"))
            continue
        old_rows, new_rows = matched(old, new)
        out.extend((name, text) for text in _missing(label, name, old, new, old_rows, new_rows, "did not restore"))
        for col in old.columns:
            if col not in new.columns:
                holding = [k for k, r in old_rows.items() if r.get(col) is not None]
                if holding:
                    out.append(
                        (
                            name,
                            f"{label} lost column {name}.{col} with values in {len(holding)} of {len(old.rows)} rows",
                        )
                    )
                continue
            changed = [
                k for k, row in old_rows.items() if k in new_rows and not _same(row.get(col), new_rows[k].get(col))
            ]
            upgraded = _rows_by_key(old, (after_upgrade or {}).get(name))
            by_upgrade = [
                k
                for k in changed
                if upgraded is not None
                and k in upgraded
                and col in upgraded[k]
                and _same(upgraded[k].get(col), new_rows[k].get(col))
            ]
            # An upgrade that only filled NULLs (a backfill), and a downgrade that leaves them filled, lose nothing.
            kept_fills = [k for k in by_upgrade if old_rows[k].get(col) is None]
            by_upgrade = [k for k in by_upgrade if k not in kept_fills]
            by_downgrade = [k for k in changed if k not in by_upgrade and k not in kept_fills]
            for step, keys in ((upgrade_label, by_upgrade), (label, by_downgrade)):
                if not keys:
                    continue
                first = keys[0]
                after_value = new_rows[first].get(col)
                verb = "lost values of" if after_value is None else "changed values of"
                undone = " (its downgrade leaves them so)" if step is upgrade_label else ""
                out.append(
                    (
                        name,
                        f"{step} {verb} {name}.{col} in {len(keys)} of {len(old.rows)} rows: "
                        f"{_key_text(old, first)} {_changed(old_rows[first].get(col), after_value)}{undone}",
                    )
                )
    return out


def _rows_by_key(old: TableRows, rows: TableRows | None) -> dict[tuple[Any, ...], dict[str, Any]] | None:
    """`rows` keyed the way `old` is, when its key columns survived; None when they cannot be matched."""
    if rows is None:
        return None
    if old.key_columns and set(old.key_columns) <= set(rows.columns):
        return {tuple(row.get(c) for c in old.key_columns): row for row in rows.rows.values()}
    if not old.key_columns:
        return matched(old, rows)[1]
    return None


def _same(a: Any, b: Any) -> bool:
    """Equal values, across the Python types drivers give one value (1, 1.0, Decimal("1.00"), True)."""
    if a == b:
        return True
    if isinstance(a, (int, float, decimal.Decimal)) and isinstance(b, (int, float, decimal.Decimal)):
        try:
            return _exact(a) == _exact(b)
        except (decimal.InvalidOperation, ValueError):  # NaN, infinities: not equal unless == said so
            return False
    return False


def _exact(value: int | float | decimal.Decimal) -> decimal.Decimal:
    # str() of a float is its shortest repr, as the database wrote it; a bool's is "True", not a number.
    return decimal.Decimal(int(value) if isinstance(value, bool) else str(value))
