"""What each revision will do to a busy production database, observed during the walk, not guessed.

`base` (the records and the observer's hooks into the walk), one module per engine (`postgresql`,
`mysql`, `sqlite`: what each server is asked after a statement), and `findings` (what the records
mean, with stable ids and the safer way).
"""

from __future__ import annotations

from typing import Any

from pytest_migrations.observe.base import Observer, StepObservation
from pytest_migrations.observe.findings import FINDINGS, Finding


def observer_for(
    engine: str, project: Any, threshold: float = 0.1, table_rows: dict[str, int] | None = None
) -> Observer:
    from pytest_migrations.observe.mysql import MySQLObserver
    from pytest_migrations.observe.postgresql import PostgresObserver
    from pytest_migrations.observe.sqlite import SQLiteObserver

    kinds = {"postgresql": PostgresObserver, "mysql": MySQLObserver, "sqlite": SQLiteObserver}
    return kinds.get(engine, Observer)(project, threshold, table_rows)


__all__ = ["FINDINGS", "Finding", "Observer", "StepObservation", "observer_for"]
