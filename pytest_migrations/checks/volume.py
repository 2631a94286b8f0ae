"""--migrations-volume N: each revision's upgrade timed, and its locks held, on tables filled to N rows.

A walk of its own on a fresh database, after the checks' walks, so that the data check keeps its few
known rows: before each revision's upgrade, every table that has not been filled yet (those the
revisions before it created) gets N generated rows, as seeding makes them (foreign keys point at
rows of the parent, CHECKs and enums are followed), inserted in batches. Then the upgrade runs,
observed as in the checks' walk. Plain upgrades only: nothing is judged here that the checks' walk
does not judge; a revision that fails stops this walk and is said as a note.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext

from pytest_migrations import schema as schemas
from pytest_migrations import seeding
from pytest_migrations.walk import Move, Program, StepResult


class _VolumeState(seeding.SeedState):
    """Seeding's state, filling a table once to `rows_per_table` rows (the volume) and no more."""

    @property
    def cap(self) -> int:
        return self.rows_per_table


def volume_program(order: list[str], volume: int, seed: int, reader: schemas.SchemaReader) -> Program:
    """Moves of the volume walk: for each revision, fill the tables that need it, then upgrade."""

    def program(conn: sa.Connection, _context: MigrationContext) -> Generator[Move, StepResult | None, None]:
        state = _VolumeState(seed=seed, rows_per_table=volume)
        for rev in order:
            snapshot = reader.snapshot(conn)
            for name, table in snapshot.tables.items():
                if name in state.known:  # filled: a later schema change does not fill it again
                    state.seeded_schema[name] = table
            seeding.seed_tables(conn, snapshot, state, rev, None)
            yield Move("upgrade", rev, "volume")

    return program


def run_volume_walk(project: Any, server: Any, prepare: Any, observer: Any, volume: int, seed: int) -> str | None:
    """The volume walk on a fresh database; why it stopped early, or None."""
    from pytest_migrations.walk import drive, fresh_database

    order = [rev.id for rev in project.revisions]
    database = fresh_database(server, prepare)
    try:
        outcome = drive(
            project, database.url, volume_program(order, volume, seed, schemas.SchemaReader()), server, observer
        )
    finally:
        database.drop()
    if outcome.error is None:
        return None
    where = f" at {outcome.failed_move.revision}" if outcome.failed_move is not None else ""
    return f"the walk at volume {volume} stopped{where}: {type(outcome.error).__name__}: {outcome.error}"
