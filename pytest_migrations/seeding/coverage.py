"""How much the data check really saw: tables seeded, columns that held a value, revisions checked.

A data check that passes while a column never held a value has not checked that column; the
summary says so, per engine, so a blind check cannot pass unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_migrations.schema import Snapshot
    from pytest_migrations.seeding.read import TableRows


@dataclass
class Coverage:
    tables: set[str] = field(default_factory=set)
    seeded: set[str] = field(default_factory=set)  # held rows when a step was checked
    columns: set[tuple[str, str]] = field(default_factory=set)
    filled: set[tuple[str, str]] = field(default_factory=set)  # held a non-NULL value at least once
    revisions: set[str] = field(default_factory=set)
    checked: set[str] = field(default_factory=set)  # revisions whose upgrade was checked with rows in place

    def observe(self, snapshot: Snapshot, known: dict[str, TableRows]) -> None:
        """Count what the tables of `snapshot` hold now, before a step runs on them."""
        for name, schema in snapshot.tables.items():
            self.tables.add(name)
            self.columns.update((name, column) for column in schema.types)
            rows = known.get(name)
            if rows is None or not rows.rows:
                continue
            self.seeded.add(name)
            for column in rows.columns:
                if (name, column) not in self.filled and any(r.get(column) is not None for r in rows.rows.values()):
                    self.filled.add((name, column))

    def merge(self, other: Coverage) -> None:
        for name in ("tables", "seeded", "columns", "filled", "revisions", "checked"):
            getattr(self, name).update(getattr(other, name))

    def as_record(self) -> dict[str, Any]:
        """Counts and names, as JSON can carry them from an xdist worker to the summary."""
        never = sorted(self.tables - self.seeded)
        return {
            "tables": [len(self.seeded & self.tables), len(self.tables)],
            "columns": [len(self.filled & self.columns), len(self.columns)],
            "revisions": [len(self.checked & self.revisions), len(self.revisions)],
            "never_seeded": never,
            "always_null": sorted(f"{t}.{c}" for t, c in self.columns - self.filled if t not in never),
        }


def describe(record: dict[str, Any]) -> str:
    """`tables 5/6 seeded, columns 30/31 held a value, revisions 4/4 checked; never seeded: ...`."""
    text = "tables {}/{} seeded, columns {}/{} held a value, revisions {}/{} checked".format(
        *record["tables"], *record["columns"], *record["revisions"]
    )
    if record["never_seeded"]:
        text += "; never seeded: " + ", ".join(record["never_seeded"])
    empty = record["always_null"]
    if empty:
        text += (
            "; never held a value: "
            + ", ".join(empty[:10])
            + (f" and {len(empty) - 10} more" if len(empty) > 10 else "")
        )
    return text
