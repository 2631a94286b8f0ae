"""Data seeding: rows generated from the reflected schema, and the comparison that finds lost data.

Rows are derived from each table's reflected columns and foreign keys (`generate`), are
deterministic for a seed, and fill nullable columns too (a NULL cannot show a lost value).
Contents are read back per table (`read`), only for the tables a step may have changed
(`affected`), and compared by primary key (`compare`).
"""

from pytest_migrations.seeding.affected import changes_schema, enforces_foreign_keys, tables_affected, with_children
from pytest_migrations.seeding.compare import losses_after_downgrade, losses_after_upgrade
from pytest_migrations.seeding.generate import RowSupplier, delete_all_rows, generate_rows, seed_tables, value_for
from pytest_migrations.seeding.read import SeedState, TableRows, read_rows, sa_table

__all__ = [
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
    "with_children",
]
