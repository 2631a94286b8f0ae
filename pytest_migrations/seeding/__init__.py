"""Data seeding: rows generated from the reflected schema, and the comparison that finds lost data.

Rows are derived from each table's reflected columns and foreign keys (`generate`), are
deterministic for a seed, and fill nullable columns too (a NULL cannot show a lost value).
Contents are read back per table (`read`), only for the tables a step may have changed
(`affected`), and compared by primary key (`compare`). Text and numbers are as wide as the column's
widest type so far, and a step that widens a column gets rows that need the room (`widths`).
"""

from pytest_migrations.seeding.affected import changes_schema, enforces_foreign_keys, tables_affected, with_children
from pytest_migrations.seeding.compare import losses_after_downgrade, losses_after_upgrade
from pytest_migrations.seeding.coverage import Coverage
from pytest_migrations.seeding.generate import RowSupplier, delete_all_rows, generate_rows, seed_tables
from pytest_migrations.seeding.read import SeedState, TableRows, read_rows, sa_table
from pytest_migrations.seeding.values import value_for
from pytest_migrations.seeding.widths import widened_tables

__all__ = [
    "Coverage",
    "RowSupplier",
    "SeedState",
    "TableRows",
    "changes_schema",
    "delete_all_rows",
    "enforces_foreign_keys",
    "generate_rows",
    "losses_after_downgrade",
    "losses_after_upgrade",
    "read_rows",
    "sa_table",
    "seed_tables",
    "tables_affected",
    "value_for",
    "widened_tables",
    "with_children",
]
